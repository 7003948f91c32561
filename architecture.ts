/**
 * Callwatch's architecture, as rules: which part of src/ may import which. `npm test` checks
 * every import of src/ against them (test/unit/architecture.test.ts), so a change that breaks a
 * wall fails the suite and the structure cannot drift silently. Read it as the map:
 *
 *   core/       the ground floor: config, logger, errors, db, queue and its job map, the bus,
 *               auth, metrics, tracing. Imports nothing of Callwatch above it.
 *   entities/   rows and the repositories holding domain queries and writes. Imports core/.
 *   dialer/     the outbound dialer's domain: the dial-attempt state machine (claims, pacing,
 *               settlement, retries), scheduled calls and campaigns. Imports core/ and entities/.
 *   loaders/    DataLoaders shared by GraphQL and the call-context fetch.
 *   realtime/   the call path: Twilio webhooks and media streams, the call session, the
 *               OpenAI Realtime client, the agent's tools. Never the GraphQL schema.
 *   workers/    pg-boss job handlers: the post-call pipeline, webhook delivery, the dialer,
 *               privacy sweeps. They reach the rest only through rows (entities/, dialer/), jobs
 *               and the bus (core/); only the composition root starts them.
 *   schema/     the GraphQL schema (Pothos). Only the GraphQL transport imports it.
 *   graphql/    the GraphQL transport: graphql-ws, shared subscriptions, request limits.
 *   monitor/    the supervisor console (static files and the handler serving them).
 *   sandbox/    stand-ins for OpenAI and Twilio, for tests and the demo; the product never
 *               imports them.
 *   cli/        command-line tasks (migrate, seed, print the schema).
 *   app.ts, main.ts, server.ts, worker.ts, database.ts and the HTTP plumbing beside them: the
 *               composition root, which may import anything.
 *
 * A rule forbids imports from files matching `from` (less `fromNot`) to files matching `to`;
 * paths are relative to the repository root. Type-only imports count: a type is knowledge of
 * the thing it describes.
 */
export interface Wall {
  name: string;
  /** Why the wall is there, shown with each violation. */
  why: string;
  from: RegExp;
  fromNot?: RegExp;
  to: RegExp;
}

export const walls: Wall[] = [
  {
    name: 'core is the ground floor',
    why: 'core/ imports nothing of Callwatch above it; hand it what it needs from the composition root, as src/database.ts hands core/db.ts the entities and migrations.',
    from: /^src\/core\//,
    to: /^(src\/(?!core\/)|migrations\/)/,
  },
  {
    name: 'entities import only core',
    why: 'Rows and repositories sit on core/ alone, so every part above can use them.',
    from: /^src\/entities\//,
    to: /^(src\/(?!core\/|entities\/)|migrations\/)/,
  },
  {
    name: 'the dialer imports only core and entities',
    why: 'The dialer is a domain room on the entities floor: realtime/, workers/ and schema/ call it, it calls none of them.',
    from: /^src\/dialer\//,
    to: /^(src\/(?!core\/|entities\/|dialer\/)|migrations\/)/,
  },
  {
    name: 'loaders import only entities and core',
    why: 'DataLoaders batch reads of entities/ for GraphQL and the call context alike.',
    from: /^src\/loaders\//,
    to: /^src\/(?!core\/|entities\/|loaders\/)/,
  },
  {
    name: 'realtime never imports the schema',
    why: 'The call path does not know GraphQL: it publishes on the bus, the schema subscribes. Nor does it call workers: it enqueues jobs.',
    from: /^src\/realtime\//,
    to: /^src\/(schema|graphql|workers)\//,
  },
  {
    name: 'workers talk through rows, jobs and the bus',
    why: 'A job handler reaches the rest only through rows (entities/, dialer/), jobs and the bus (core/), so it runs the same in any process.',
    from: /^src\/workers\//,
    to: /^src\/(?!core\/|entities\/|dialer\/|workers\/)/,
  },
  {
    name: 'only the composition root starts workers',
    why: 'Nothing but app.ts and worker.ts imports workers/: everything else enqueues a job.',
    from: /^src\//,
    fromNot: /^src\/(workers\/|app\.ts$|worker\.ts$)/,
    to: /^src\/workers\//,
  },
  {
    name: 'only the transport imports the schema',
    why: 'The GraphQL schema is served by the transport (graphql/, server.ts) and printed by cli/print-schema.ts; nothing else may depend on it.',
    from: /^src\//,
    fromNot: /^src\/(schema\/|graphql\/|server\.ts$|cli\/print-schema\.ts$)/,
    to: /^src\/schema\//,
  },
  {
    name: 'the product never imports the stand-ins',
    why: 'sandbox/ is for tests and the demo; nothing the product runs may depend on it.',
    from: /^src\//,
    fromNot: /^src\/(sandbox|cli)\//,
    to: /^src\/sandbox\//,
  },
];
