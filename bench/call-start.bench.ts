/**
 * `npm run bench:call-start [-- --calls N] [--greetings N]` — how long a call takes from
 * Twilio's `start` to the `session.update` Callwatch sends OpenAI, with the context
 * pre-warmed and the OpenAI session pre-opened by the voice webhook, and cold (both at
 * `start`); how long the greeting takes — `start` → the first agent audio frame sent to
 * Twilio — against an OpenAI that takes 250 ms to accept a connection and 700 ms from
 * `response.created` to its first audio, with the session pre-opened and opened at `start`,
 * and Callwatch's own share of it (the greeting less the stand-in's own time); and how long the batched context load takes next to
 * the five sequential queries of the system before it, in units of one database round trip.
 * Everything runs in this process on loopback; Postgres is DATABASE_URL or an embedded
 * server of its own. Prints a table and writes it into BENCHMARKS.md.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Callwatch } from '../src/app.ts';
import type { Orm } from '../src/core/db.ts';
import { firstNameOf } from '../src/core/names.ts';
import { BusinessSettings } from '../src/entities/business-settings.entity.ts';
import { Call } from '../src/entities/call.entity.ts';
import { Lead } from '../src/entities/lead.entity.ts';
import { OutboundCallJob } from '../src/entities/outbound-call-job.entity.ts';
import { fetchCallRows, loadCallContext } from '../src/realtime/call-context.ts';
import { signStreamToken, type CallRef } from '../src/realtime/twilio-line/stream-token.ts';
import { startOpenAIRealtimeStandIn, type OpenAIRealtimeStandIn, type StandInSession } from '../src/sandbox/openai-realtime.server.ts';
import { SimulatedCaller } from '../src/sandbox/simulated-caller.ts';
import { startTwilioApiStandIn, type TwilioApiStandIn } from '../src/sandbox/twilio-api.server.ts';
import { inboundCallParams, postTwilioWebhook, streamOf, twilioAccountSid, twilioAuthToken } from '../test/support/twilio.ts';
import { deadline, numberOptions, sleep, until } from './support/args.ts';
import { connectStream, timeGreeting, type GreetingTiming } from './support/greeting.ts';
import { startBenchApp } from './support/app.ts';
import { startBenchDatabase, type BenchDatabase } from './support/database.ts';
import { machineLoad, sampleMachine } from './support/process-usage.ts';
import { commandLine, machine, revision, writeSection } from './support/report.ts';
import { benchCallSid, businessNumber, callerNumber, seedScenario, type BenchScenario } from './support/scenario.ts';
import { fmt, ratio, summarize, table, type Summary } from './support/stats.ts';

const options = numberOptions('npm run bench:call-start -- [--calls 200] [--warmup 20] [--greetings 40]', { calls: 200, warmup: 20, greetings: 40 });
const budget = { warmP99Ms: 5, coldP99Ms: 10, greetingOwnMs: 5 };
/** How long the stand-in takes to accept a connection in the greeting runs (TLS, auth, session set-up). */
const openaiConnectMs = 250;
/**
 * OpenAI's time to first audio in the greeting runs: `response.created` → first audio delta.
 * GPT-4o answers audio in 320 ms on average inside OpenAI (its system card); reports of the
 * Realtime API over the internet put the first turn at 500–1,200 ms. 700 ms is in that range.
 */
const openaiFirstAudioMs = 700;
const openaiKey = 'sk-bench-key';

interface Bench {
  app: Callwatch;
  openai: OpenAIRealtimeStandIn;
  scenario: BenchScenario;
  mediaUrl: string;
  /** Statements sent by Callwatch's ORM so far, and how many of them read the bookings. */
  statements: { total: number; bookings: number };
  run: number;
}

async function main(): Promise<void> {
  const total = options.warmup + options.calls;
  deadline(120_000 + total * 1_000 + options.greetings * 4_000, 'bench:call-start');
  const startedAt = new Date();
  let database: BenchDatabase | undefined;
  let openai: OpenAIRealtimeStandIn | undefined;
  let twilioApi: TwilioApiStandIn | undefined;
  let app: Callwatch | undefined;
  try {
    database = await startBenchDatabase();
    openai = await startOpenAIRealtimeStandIn({ apiKey: openaiKey, pace: 'instant' });
    twilioApi = await startTwilioApiStandIn({ accountSid: twilioAccountSid, authToken: twilioAuthToken });
    const statements = { total: 0, bookings: 0 };
    app = await startBenchApp(database.url, {
      env: { OPENAI_API_KEY: openaiKey, OPENAI_REALTIME_URL: openai.url, TWILIO_API_URL: twilioApi.url },
      onStatement: (sql) => {
        // The instance heartbeat's own timer: not the calls'.
        if (sql.includes('instance_heartbeats')) return;
        statements.total++;
        if (sql.includes('from "appointments"')) statements.bookings++;
      },
    });
    const scenario = await seedScenario(app.services.orm.em);
    const bench: Bench = {
      app,
      openai,
      scenario,
      mediaUrl: `${(app.http?.url ?? '').replace(/^http/, 'ws')}/twilio/media`,
      statements,
      run: randomBytes(4).readUInt32BE(0),
    };

    process.stdout.write(`call start: ${options.calls} calls each way (+${options.warmup} warm-up), ${database.server}\n`);
    const machineFrom = sampleMachine();
    // Warm and cold calls take turns, so a noisy stretch of the shared machine hits both alike.
    const coldCalls = await createCallRows(bench, total);
    const warm: number[] = [];
    const cold: number[] = [];
    for (const [i, claims] of coldCalls.entries()) {
      const warmMs = await warmStart(bench, i);
      const coldMs = await startCall(bench, claims.callSid, signStreamToken(claims, app.services.config.appSecret));
      if (i < options.warmup) continue;
      warm.push(warmMs);
      cold.push(coldMs);
    }
    const loads = await compareLoads(bench, coldCalls);
    const greetings = await compareGreetings(bench);
    const load = machineLoad(machineFrom, sampleMachine());

    const report = render({
      warm: summarize(warm),
      cold: summarize(cold),
      context: summarize(loads.times.context),
      fetch: summarize(loads.times.fetch),
      sequential: summarize(loads.times.sequential),
      rtt: summarize(loads.times.rtt),
      queries: loads.queries,
      greetings,
      database: database.server,
      startedAt,
      machine: load,
    });
    process.stdout.write(`\n${report}\n`);
    writeSection('call-start', 'Call start', report);
    process.stdout.write('\nwritten to BENCHMARKS.md (section bench:call-start)\n');
  } finally {
    await app?.close();
    await openai?.close();
    await twilioApi?.close();
    await database?.stop();
  }
}

/** A call as Twilio places it: the signed voice webhook pre-warms the context and pre-opens the session, then the stream starts. */
async function warmStart(bench: Bench, i: number): Promise<number> {
  const { callSid, token, session } = await answerCall(bench, benchCallSid(bench.run, i));
  return startCall(bench, callSid, token, session);
}

/**
 * The signed voice webhook for `callSid`; resolves once the call's context is pre-warmed
 * and the OpenAI session it pre-opened has been accepted, with that session and how long
 * the pre-open took from the webhook's answer (Twilio connects the stream meanwhile).
 */
async function answerCall(bench: Bench, callSid: string): Promise<{ callSid: string; token: string; session: StandInSession; preopenMs: number }> {
  const bookingsBefore = bench.statements.bookings;
  const session = bench.openai.nextSession(10_000);
  const response = await postTwilioWebhook(bench.app.http?.url ?? '', '/twilio/voice', inboundCallParams({ accountSid: twilioAccountSid, callSid, from: callerNumber, to: businessNumber }));
  if (response.status !== 200) throw new Error(`voice webhook answered ${response.status}: ${response.body}`);
  const answeredAt = performance.now();
  const { token } = streamOf(response.body);
  const accepted = await session;
  const preopenMs = performance.now() - answeredAt;
  // The bookings query is the last of the pre-warm's batch to go out; give the batch time to
  // come back, and Callwatch's side of the socket time to see it open.
  await until(() => bench.statements.bookings > bookingsBefore, 'the pre-warm of the call context');
  await sleep(20);
  return { callSid, token, session: accepted, preopenMs };
}

/** Call rows the voice webhook never saw: their context is loaded at `start`, in one batched tick. */
async function createCallRows(bench: Bench, count: number, from = 1_000_000): Promise<CallRef[]> {
  const em = bench.app.services.orm.em.fork();
  const rows = Array.from({ length: count }, (_, i) =>
    em.create(Call, {
      business: bench.scenario.businessId,
      lead: bench.scenario.leadId,
      callSid: benchCallSid(bench.run, from + i),
      direction: 'inbound',
      fromNumber: callerNumber,
      toNumber: businessNumber,
      status: 'ringing',
    }),
  );
  await em.flush();
  return rows.map((row) => ({ callSid: row.callSid, callId: row.id, businessId: bench.scenario.businessId, leadId: bench.scenario.leadId, outboundJobId: null }));
}

/**
 * Opens the media stream and times `start` → `session.update` arriving at the stand-in
 * (same process, same clock): on `session`, pre-opened by the voice webhook, or — without
 * one — on the session Callwatch opens at `start`, its connection included. Ends the call
 * and waits until Callwatch has written it down, so calls never overlap.
 */
async function startCall(bench: Bench, callSid: string, token: string, session?: StandInSession): Promise<number> {
  const opened = session ? Promise.resolve(session) : bench.openai.nextSession(5_000);
  const caller = await SimulatedCaller.connect(bench.mediaUrl, { callSid, accountSid: twilioAccountSid, customParameters: { token } });
  let elapsed: number;
  try {
    const t0 = performance.now();
    caller.start();
    const ready = await opened;
    const event = await ready.waitForReceived('session.update', 5_000);
    // When it arrived, not when this continuation runs: the stand-in handles the event (it
    // validates a session.update as OpenAI does) before a waiter's continuation gets the loop.
    elapsed = ready.times.received[ready.received.indexOf(event)]! - t0;
    if (!JSON.stringify(event).includes('ד״ר שרה לוי')) throw new Error('session.update without the caller in its instructions');
    await ready.waitForReceived('response.create', 5_000);
  } finally {
    caller.stop();
    await caller.close();
  }
  await callWritten(bench, callSid);
  return elapsed;
}

async function callWritten(bench: Bench, callSid: string): Promise<void> {
  await until(async () => (await bench.app.services.orm.em.fork().findOne(Call, { callSid }))?.status === 'completed', 'the call to be written down');
}

/**
 * The greeting against an OpenAI that takes `openaiConnectMs` to accept a connection and
 * `openaiFirstAudioMs` to start speaking:
 * calls whose session the voice webhook pre-opened, and calls whose session opens at
 * `start` (their webhook answered on another instance), taking turns.
 */
async function compareGreetings(bench: Bench): Promise<{ preopened: GreetingTiming[]; atStart: GreetingTiming[]; preopenMs: number[] }> {
  bench.openai.delayConnections(openaiConnectMs);
  const results = { preopened: [] as GreetingTiming[], atStart: [] as GreetingTiming[], preopenMs: [] as number[] };
  const others = await createCallRows(bench, options.greetings, 2_000_000);
  try {
    for (const [i, claims] of others.entries()) {
      const answered = await answerCall(bench, benchCallSid(bench.run, 3_000_000 + i));
      results.preopenMs.push(answered.preopenMs);
      results.preopened.push(await greet(bench, answered.callSid, answered.token, answered.session));
      results.atStart.push(await greet(bench, claims.callSid, signStreamToken(claims, bench.app.services.config.appSecret), undefined));
    }
  } finally {
    bench.openai.delayConnections(0);
  }
  return results;
}

async function greet(bench: Bench, callSid: string, token: string, session: StandInSession | undefined): Promise<GreetingTiming> {
  const caller = await connectStream(bench.mediaUrl, callSid, token);
  try {
    return await timeGreeting(bench.openai, caller, session, { connectDelayMs: openaiConnectMs, firstAudioDelayMs: openaiFirstAudioMs });
  } finally {
    caller.stop();
    await caller.close();
    await callWritten(bench, callSid);
  }
}

/** What the system before Callwatch did at call start: five queries one after another, the first name six times. */
async function loadTheOldWay(orm: Orm, callSid: string): Promise<unknown> {
  const em = orm.em.fork();
  const call = await em.findOneOrFail(Call, { callSid });
  const lead = call.lead ? await em.findOne(Lead, { id: call.lead.id }) : null;
  const job = await em.findOne(OutboundCallJob, { lastCallSid: callSid });
  // "Lead again for gender": a fresh query, not the identity map.
  const gender = lead ? (await em.fork().findOne(Lead, { id: lead.id }, { fields: ['gender'] }))?.gender : null;
  const settings = await em.findOneOrFail(BusinessSettings, { business: call.business.id });
  let firstName: string | undefined;
  for (let i = 0; i < 6; i++) firstName = firstNameOf(lead?.fullName);
  return { call, lead, job, gender, settings, firstName };
}


type LoadKey = 'rtt' | 'context' | 'fetch' | 'sequential';

/**
 * Times, for the same calls, a trivial `select 1` (one round trip through the same ORM and
 * pool: the unit), loadCallContext, its batched fetch alone, and the old sequential load,
 * taking turns in rotating order so drift on a shared machine hits all of them alike.
 */
async function compareLoads(bench: Bench, calls: CallRef[]): Promise<{ times: Record<LoadKey, number[]>; queries: Record<LoadKey, number> }> {
  const orm = bench.app.services.orm;
  const results: Record<LoadKey, number[]> = { rtt: [], context: [], fetch: [], sequential: [] };
  const queries: Record<LoadKey, number> = { rtt: 0, context: 0, fetch: 0, sequential: 0 };
  const steps: { key: LoadKey; run: (claims: CallRef) => Promise<unknown> }[] = [
    { key: 'rtt', run: () => orm.em.fork().execute('select 1') },
    { key: 'context', run: (claims) => loadCallContext(orm, claims) },
    { key: 'fetch', run: (claims) => fetchCallRows(orm, claims) },
    { key: 'sequential', run: (claims) => loadTheOldWay(orm, claims.callSid) },
  ];
  for (const [i, claims] of calls.entries()) {
    for (let s = 0; s < steps.length; s++) {
      const step = steps[(i + s) % steps.length]!;
      const before = bench.statements.total;
      const t0 = performance.now();
      await step.run(claims);
      const elapsed = performance.now() - t0;
      if (i >= options.warmup) results[step.key].push(elapsed);
      queries[step.key] = bench.statements.total - before;
    }
  }
  return { times: results, queries };
}

interface Figures {
  warm: Summary;
  cold: Summary;
  context: Summary;
  fetch: Summary;
  sequential: Summary;
  rtt: Summary;
  queries: Record<LoadKey, number>;
  greetings: { preopened: GreetingTiming[]; atStart: GreetingTiming[]; preopenMs: number[] };
  database: string;
  startedAt: Date;
  /** Shares of all cores busy and stolen by the hypervisor while measuring. */
  machine: { busy: number; steal: number };
}

function render(f: Figures): string {
  const row = (name: string, s: Summary) => [name, String(s.n), fmt(s.p50), fmt(s.p95), fmt(s.p99), fmt(s.max)];
  const rtts = (s: Summary) => `${(s.p50 / f.rtt.p50).toFixed(1)} RTT`;
  const rttsP99 = (s: Summary) => `${(s.p99 / f.rtt.p99).toFixed(1)} RTT (p99 / p99)`;
  const verdict = (value: number, limit: number) => (value <= limit ? `met (${fmt(value)} ≤ ${limit} ms)` : `missed (${fmt(value)} > ${limit} ms, ${ratio(value, limit)} the budget)`);
  const g = f.greetings;
  const greetPre = summarize(g.preopened.map((t) => t.startToAudioMs));
  const greetAt = summarize(g.atStart.map((t) => t.startToAudioMs));
  const ownPre = summarize(g.preopened.map((t) => t.callwatchMs));
  const openaiPre = summarize(g.preopened.map((t) => t.openaiMs));
  const ownAt = summarize(g.atStart.map((t) => t.callwatchMs));
  const openaiAt = summarize(g.atStart.map((t) => t.openaiMs));
  const preopen = summarize(g.preopenMs);
  return [
    `Run ${f.startedAt.toISOString()} on ${machine()}; Callwatch ${revision()}; ${f.database}. ` +
      `While measuring, the machine was ${fmt(100 * f.machine.busy)} % busy and the hypervisor took ${fmt(100 * f.machine.steal)} % of its cores` +
      (f.machine.steal > 0.05 ? ' — **a noisy run: compare the ratios, not the absolute figures, or run again**.' : '.'),
    `Command: \`${commandLine('bench:call-start', 'bench/call-start.bench.ts')}\` — ${f.warm.n} calls per row after ${options.warmup} warm-up calls, one at a time, warm and cold taking turns.`,
    '',
    table(
      ['measure (ms)', 'n', 'p50', 'p95', 'p99', 'max'],
      [
        row('warm (context pre-warmed, session pre-opened): `start` → `session.update` at OpenAI', f.warm),
        row('cold (context loaded, session opened at `start`): `start` → `session.update` at OpenAI', f.cold),
        row(`loadCallContext: batched fetch + free slots + prompt (${f.queries.context} queries)`, f.context),
        row(`its batched fetch alone, one tick (${f.queries.fetch} queries)`, f.fetch),
        row(`old way: sequential queries + first name ×6 (${f.queries.sequential} queries)`, f.sequential),
        row('`select 1` through the same ORM (the unit: one round trip)', f.rtt),
      ],
    ),
    '',
    table(
      ['comparison', 'p50', 'p99'],
      [
        ['old way / batched fetch (same data access, old vs new)', ratio(f.sequential.p50, f.fetch.p50), ratio(f.sequential.p99, f.fetch.p99)],
        ['old way / loadCallContext (everything the new start does)', ratio(f.sequential.p50, f.context.p50), ratio(f.sequential.p99, f.context.p99)],
        ['cold / warm start', ratio(f.cold.p50, f.warm.p50), ratio(f.cold.p99, f.warm.p99)],
        ['batched fetch in round trips', rtts(f.fetch), rttsP99(f.fetch)],
        ['loadCallContext in round trips', rtts(f.context), rttsP99(f.context)],
        ['old way in round trips', rtts(f.sequential), rttsP99(f.sequential)],
      ],
    ),
    '',
    `Greeting: Twilio's \`start\` → the first agent audio frame sent to Twilio, against a Realtime stand-in that takes ${openaiConnectMs} ms to accept a connection ` +
      `and ${openaiFirstAudioMs} ms from \`response.created\` to its first audio delta (OpenAI's time to first audio; otherwise instant pace); ${greetPre.n} calls each way, taking turns. ` +
      `"Pre-opened": the signed voice webhook opened the session (${fmt(preopen.p50)} ms p50 from its answer, while Twilio connects the stream). ` +
      `"At start": no webhook on this instance, so the context loads and the session opens after the token check. ` +
      `OpenAI's share is the stand-in's own time on its clock: \`session.update\` in → \`session.updated\` out, plus \`response.create\` in → first delta out (the ${openaiFirstAudioMs} ms included), ` +
      `plus the ${openaiConnectMs} ms connection delay when the session opens at \`start\`. Callwatch's share is the rest: its own work between the stand-in's events and the loopback hops.`,
    '',
    table(
      ['greeting (ms)', 'n', 'p50', 'p95', 'p99', 'max'],
      [
        row('pre-opened: `start` → first agent frame to Twilio', greetPre),
        row('opened at `start`: `start` → first agent frame to Twilio', greetAt),
        row("OpenAI's own share (pre-opened), at the stand-in", openaiPre),
        row("OpenAI's own share (opened at `start`), at the stand-in, its connection delay included", openaiAt),
        row("**Callwatch's share (pre-opened)**: the first row less OpenAI's", ownPre),
        row("**Callwatch's share (opened at `start`)**: the second row less OpenAI's (context loaded, socket opened)", ownAt),
      ],
    ),
    '',
    table(
      ['comparison', 'p50', 'p99'],
      [['opened at `start` / pre-opened', ratio(greetAt.p50, greetPre.p50), ratio(greetAt.p99, greetPre.p99)]],
    ),
    '',
    `Budget: warm p99 ≤ ${budget.warmP99Ms} ms — ${verdict(f.warm.p99, budget.warmP99Ms)}; cold p99 ≤ ${budget.coldP99Ms} ms — ${verdict(f.cold.p99, budget.coldP99Ms)}; ` +
      `context ready in ≈ 1 round trip — the fetch takes ${rtts(f.fetch)}, the whole context ${rtts(f.context)} at p50; ` +
      `greeting with the session pre-opened ≤ OpenAI's own time to first audio + ${budget.greetingOwnMs} ms — ${verdict(ownPre.p99, budget.greetingOwnMs)} (Callwatch's share, p99).`,
  ].join('\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:call-start failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
