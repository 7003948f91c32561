/**
 * `npm run bench:graphql [-- --calls 200 --seconds 3 --warmup 1 --concurrency 4]` — what a
 * CRM page costs: the `calls` query for a page of 20 and of 100 calls, each with its lead,
 * appointments and webhook deliveries, executed in this process (graphql's `execute` on
 * the app's schema, a context from `createContext` per request, API key included). Each
 * page size runs with the DataLoaders and, in the same run, with the naive variant (every
 * load its own query, nothing cached or primed) as the baseline: SQL statements per
 * request, requests per second and latency. Prints a table and writes it into BENCHMARKS.md.
 */
import { randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { createComplexityRule } from '@pothos/plugin-complexity';
import { execute, parse, validate, type ExecutionResult } from 'graphql';
import type { Callwatch } from '../src/app.ts';
import { issueApiKey } from '../src/entities/api-key.repository.ts';
import type { LoaderOptions } from '../src/loaders/index.ts';
import { createContext } from '../src/schema/context.ts';
import { schema } from '../src/schema/index.ts';
import { queryLimits } from '../src/server.ts';
import { deadline, numberOptions } from './support/args.ts';
import { seedCallHistory, type CallHistory } from './support/call-history.ts';
import { startBenchApp } from './support/app.ts';
import { startBenchDatabase, type BenchDatabase } from './support/database.ts';
import { machineLoad, sampleMachine } from './support/process-usage.ts';
import { commandLine, machine, revision, writeSection } from './support/report.ts';
import { seedScenario } from './support/scenario.ts';
import { fmt, ratio, summarize, table } from './support/stats.ts';

const defaults = { calls: 200, seconds: 3, warmup: 1, concurrency: 4 };
const options = numberOptions('npm run bench:graphql -- [--calls 200] [--seconds 3] [--warmup 1] [--concurrency 4]', defaults);
const pageSizes = [20, 100] as const;
/** DESIGN.md: statements per request independent of page size, ≤ 4 for a page of calls with lead and appointments. */
const budget = { statements: 4 };
/** The measured seconds of each case are cut into rounds of about this long, the cases taking turns. */
const roundSeconds = 1;

const query = /* GraphQL */ `
  query CallsPage($first: Int!) {
    calls(first: $first) {
      nodes {
        id
        callSid
        lead { id fullName phone }
        appointments { id startsAt status }
        webhookDeliveries { id status attempts { statusCode } }
      }
    }
  }
`;
const document = parse(query);

interface Variant {
  name: string;
  loaderOptions: LoaderOptions;
}

const variants: Variant[] = [
  { name: 'DataLoaders', loaderOptions: {} },
  { name: 'naive (baseline)', loaderOptions: { batch: false } },
];

/** One page size with one variant, and what measuring it found. */
interface Case {
  first: number;
  variant: Variant;
  /** The statements of one request run alone. */
  alone: string[];
  latencies: number[];
  requests: number;
  elapsedMs: number;
  statements: number;
}

interface Bench {
  app: Callwatch;
  authorization: string;
  /** Statements sent by Callwatch's ORM so far; `log` collects them while set. */
  statements: { total: number; log: string[] | null };
  requestIds: number;
}

async function main(): Promise<void> {
  if (options.calls < Math.max(...pageSizes)) throw new Error(`--calls must be at least ${Math.max(...pageSizes)}: a page of that many is measured`);
  const cases = pageSizes.length * variants.length;
  deadline(120_000 + cases * (options.warmup + options.seconds + 5) * 2_000, 'bench:graphql');
  const startedAt = new Date();
  let database: BenchDatabase | undefined;
  let app: Callwatch | undefined;
  try {
    database = await startBenchDatabase();
    const statements: Bench['statements'] = { total: 0, log: null };
    app = await startBenchApp(database.url, {
      onStatement: (sql) => {
        // The instance heartbeat's own timer: not the requests'.
        if (sql.includes('instance_heartbeats')) return;
        statements.total++;
        statements.log?.push(sql);
      },
    });
    const { businessId } = await seedScenario(app.services.orm.em);
    const history = await seedCallHistory(app.services.orm.em, businessId, options.calls, randomBytes(4).readUInt32BE(0));
    const { key } = await issueApiKey(app.services.orm.em.fork(), { businessId, role: 'viewer', name: 'bench:graphql' });
    const bench: Bench = { app, authorization: `Bearer ${key}`, statements, requestIds: 0 };
    const complexity = checkAccepted(Math.max(...pageSizes));

    process.stdout.write(
      `graphql: pages of ${pageSizes.join(' and ')} calls, ${variants.map((v) => v.name).join(' vs ')}; ` +
        `${options.seconds} s each (+${options.warmup} s warm-up), ${options.concurrency} requests at a time; ${database.server}\n`,
    );
    const all: Case[] = [];
    for (const first of pageSizes) {
      const results: ExecutionResult[] = [];
      for (const variant of variants) {
        statements.log = [];
        results.push(await request(bench, variant, first));
        all.push({ first, variant, alone: statements.log, latencies: [], requests: 0, elapsedMs: 0, statements: 0 });
        statements.log = null;
      }
      checkPage(results, first);
    }

    const machineFrom = sampleMachine();
    for (const item of all) await drive(bench, item, options.warmup * 1_000, false);
    const rounds = Math.max(1, Math.round(options.seconds / roundSeconds));
    for (let round = 0; round < rounds; round++) {
      for (const item of rotate(all, round)) await drive(bench, item, (options.seconds * 1_000) / rounds, true);
    }
    const load = machineLoad(machineFrom, sampleMachine());

    const report = render(all, { history, complexity, database: database.server, startedAt, machine: load });
    process.stdout.write(`\n${report}\n`);
    const id = options.concurrency === defaults.concurrency ? 'graphql' : `graphql:concurrency-${options.concurrency}`;
    writeSection(id, options.concurrency === defaults.concurrency ? 'GraphQL' : `GraphQL, ${options.concurrency} requests at a time`, report);
    process.stdout.write(`\nwritten to BENCHMARKS.md (section bench:${id})\n`);
  } finally {
    await app?.close();
    await database?.stop();
  }
}

/** One request as /graphql runs it after parsing and validation: a fresh context (key checked, new loaders), then execution. */
async function request(bench: Bench, variant: Variant, first: number): Promise<ExecutionResult> {
  const contextValue = await createContext(bench.app.services, { requestId: `bench-${++bench.requestIds}`, authorization: bench.authorization }, variant.loaderOptions);
  const result = await execute({ schema, document, contextValue, variableValues: { first } });
  if (result.errors?.length) throw new Error(`${variant.name}, first ${first}: ${result.errors.map((error) => error.message).join('; ')}`);
  return result;
}

/**
 * Checks the document the way /graphql does before running it — GraphQL's rules, then the
 * depth/breadth/cost limits — so the benchmark measures a query a client may send. Returns its cost.
 */
function checkAccepted(first: number): number {
  let cost = Number.NaN;
  const rule = createComplexityRule({ context: {}, variableValues: { first }, ...queryLimits, onResult: (result) => void (cost = result.complexity) });
  const errors = [...validate(schema, document), ...validate(schema, document, [rule])];
  if (errors.length > 0) throw new Error(`/graphql would refuse the query: ${errors.map((error) => error.message).join('; ')}`);
  return cost;
}

/** Both variants must answer the same, full page: N calls, each with a lead, 1–2 appointments and 1–2 deliveries. */
function checkPage(results: ExecutionResult[], first: number): void {
  const [reference, ...others] = results;
  type Node = { lead: unknown; appointments: unknown[]; webhookDeliveries: unknown[] };
  const nodes = (reference?.data as { calls?: { nodes?: Node[] } } | undefined)?.calls?.nodes ?? [];
  const full = nodes.every((node) => node.lead !== null && [1, 2].includes(node.appointments.length) && [1, 2].includes(node.webhookDeliveries.length));
  if (nodes.length !== first || !full) throw new Error(`a page of ${first}: got ${nodes.length} calls, every one with lead, appointments and deliveries: ${full}`);
  for (const other of others) {
    const path = firstDifference(reference?.data, other.data);
    if (path !== null) throw new Error(`a page of ${first}: the variants answered differently at ${path}`);
  }
}

/** Where `a` and `b` first differ, as `.calls.nodes[3].lead`, or null when they are equal. */
function firstDifference(a: unknown, b: unknown, path = ''): string | null {
  if (isDeepStrictEqual(a, b)) return null;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return `${path}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`;
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const found = firstDifference((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key], Array.isArray(a) ? `${path}[${key}]` : `${path}.${key}`);
    if (found !== null) return found;
  }
  return `${path} (same fields, different prototypes)`;
}

/** Runs `item` for `ms`, `options.concurrency` requests at a time, each starting when one ends. */
async function drive(bench: Bench, item: Case, ms: number, record: boolean): Promise<void> {
  const statementsBefore = bench.statements.total;
  const t0 = performance.now();
  const end = t0 + ms;
  let requests = 0;
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (performance.now() < end) {
        const started = performance.now();
        await request(bench, item.variant, item.first);
        if (record) item.latencies.push(performance.now() - started);
        requests++;
      }
    }),
  );
  if (!record) return;
  item.elapsedMs += performance.now() - t0;
  item.requests += requests;
  item.statements += bench.statements.total - statementsBefore;
}

/** `items`, starting at `round` modulo their number: who goes first changes every round. */
function rotate<T>(items: T[], round: number): T[] {
  const start = round % items.length;
  return [...items.slice(start), ...items.slice(0, start)];
}

interface RunInfo {
  history: CallHistory;
  complexity: number;
  database: string;
  startedAt: Date;
  machine: { busy: number; steal: number };
}

function render(all: Case[], run: RunInfo): string {
  const figures = all.map((item) => ({ ...item, latency: summarize(item.latencies), perSecond: (item.requests / item.elapsedMs) * 1_000 }));
  const find = (first: number, variant: Variant) => figures.find((f) => f.first === first && f.variant === variant)!;
  const [loaders, naive] = variants as [Variant, Variant];
  const underLoad = (f: { statements: number; requests: number }) => f.statements / f.requests;
  const row = (f: (typeof figures)[number]) => [
    String(f.first),
    f.variant.name,
    `${f.alone.length} / ${underLoad(f).toFixed(2)}`,
    String(f.requests),
    fmt(f.perSecond),
    fmt(f.latency.p50),
    fmt(f.latency.p99),
    fmt(f.latency.max),
  ];
  const compare = (first: number) => {
    const l = find(first, loaders);
    const n = find(first, naive);
    return [String(first), ratio(n.alone.length, l.alone.length), ratio(l.perSecond, n.perSecond), ratio(n.latency.p50, l.latency.p50), ratio(n.latency.p99, l.latency.p99)];
  };
  const counts = pageSizes.map((first) => find(first, loaders).alone.length);
  const flat = counts.every((count) => count === counts[0]);
  const worst = Math.max(...counts);
  const shown = find(pageSizes[0], loaders).alone.map((sql, i) => `${i + 1}. \`${sql.replace(/\s+/g, ' ').slice(0, 90)}…\``);
  const mismatched = figures.filter((f) => Math.abs(underLoad(f) - f.alone.length) > 1e-9);
  return [
    `Run ${run.startedAt.toISOString()} on ${machine()}; Callwatch ${revision()}; ${run.database}. ` +
      `While measuring, the machine was ${fmt(100 * run.machine.busy)} % busy and the hypervisor took ${fmt(100 * run.machine.steal)} % of its cores` +
      (run.machine.steal > 0.05 ? ' — **a noisy run: compare the ratios, not the absolute figures, or run again**.' : '.'),
    `Command: \`${commandLine('bench:graphql', 'bench/graphql.bench.ts')}\` — per row ${options.seconds} s measured after ${options.warmup} s of warm-up, ` +
      `${options.concurrency} requests at a time, in ${Math.max(1, Math.round(options.seconds / roundSeconds))} round(s) of the four rows taking turns. ` +
      `In process, not over HTTP: graphql's \`execute\` on the app's schema, the document parsed and validated once (as yoga caches it), ` +
      `and per request \`createContext\` with the API key (its check is one statement and counts) and fresh loaders. ` +
      `Data: ${run.history.calls} calls with a lead each, ${run.history.appointments} appointments, ${run.history.deliveries} webhook deliveries; the query's cost at 100 is ${run.complexity} (limit ${queryLimits.maxComplexity}).`,
    '',
    '```graphql',
    'calls(first: $first) { nodes { id callSid lead { id fullName phone } appointments { id startsAt status } webhookDeliveries { id status attempts { statusCode } } } }',
    '```',
    '',
    table(['page', 'variant', 'SQL statements / request (alone / under load)', 'requests', 'req/s', 'p50 ms', 'p99 ms', 'max ms'], figures.map(row)),
    '',
    table(['page', 'statements: naive / loaders', 'req/s: loaders / naive', 'p50: naive / loaders', 'p99: naive / loaders'], pageSizes.map(compare)),
    '',
    `The ${counts[0]} statements of a request with the loaders (page of ${pageSizes[0]}):`,
    ...shown,
    '',
    `Budget: statements per request independent of page size and ≤ ${budget.statements} — ` +
      (flat && worst <= budget.statements ? `met (${counts.join(' = ')} for pages of ${pageSizes.join(' and ')})` : `missed (${counts.join(' and ')} for pages of ${pageSizes.join(' and ')})`) +
      (mismatched.length > 0 ? `; **under load the count differed from a request alone** for ${mismatched.map((f) => `${f.first}/${f.variant.name}`).join(', ')}.` : '.'),
  ].join('\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:graphql failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
