/**
 * `npm run bench:soak [-- --calls 600 --warmup 200 --concurrency 20 --every 20]` (or
 * SOAK_CALLS=N) — does Callwatch's memory grow with the calls it has taken? Callwatch runs
 * as a child process of its own (api role, production settings, `--expose-gc`) against the
 * OpenAI Realtime stand-in at instant pace and the Twilio stand-in, on loopback. Each call
 * is real: the signed voice webhook, the media stream (SimulatedCaller) with `start`, the
 * agent's greeting, the caller's Hebrew booking request, half a second of silence, `stop`;
 * `concurrency` calls at a time. Every `every` calls the child reports its RSS and heap,
 * then both again after a forced GC; after the soak, the same once all calls are written
 * and the line is idle. Prints a table, the growth per call past warm-up, the trend (least
 * squares slope over the last 500 calls of the post-GC heap less compiled code and bytecode, which grow
 * while the JIT warms up whatever the calls leave behind), the calls written and the
 * handles left open, and writes it into BENCHMARKS.md (section "Soak"). With
 * SOAK_HEAP_SNAPSHOTS=<dir>, Callwatch also writes a heap snapshot there after the warm-up
 * and after the soak (idle, after GC), to compare in Chrome's DevTools when the heap grows.
 */
import { randomBytes } from 'node:crypto';
import { withPgClient } from '../src/core/db.ts';
import { liveCallStatuses } from '../src/entities/call-record.ts';
import { loadFixture } from '../src/sandbox/fixtures.ts';
import { startOpenAIRealtimeStandIn, type OpenAIRealtimeStandIn } from '../src/sandbox/openai-realtime.server.ts';
import { SimulatedCaller } from '../src/sandbox/simulated-caller.ts';
import { startTwilioApiStandIn, type TwilioApiStandIn } from '../src/sandbox/twilio-api.server.ts';
import { inboundCallParams, postTwilioWebhook, streamOf, twilioAccountSid, twilioAuthToken } from '../test/support/twilio.ts';
import { deadline, numberOptions, until } from './support/args.ts';
import { startBenchDatabase, type BenchDatabase } from './support/database.ts';
import { ForkedProcess } from './support/forked-process.ts';
import { commandLine, writeSection } from './support/report.ts';
import { benchCallSid, businessNumber, callerNumber } from './support/scenario.ts';
import type { SoakMessage, SoakServerMessage } from './support/soak-server.child.ts';
import { handleCount, renderSoak, type Checkpoint, type SoakFigures } from './support/soak-report.ts';

const usage = 'npm run bench:soak -- [--calls 600] [--warmup 200] [--concurrency 20] [--every 20]   (or SOAK_CALLS=N)';
const options = numberOptions(usage, { calls: Number(process.env.SOAK_CALLS) || 600, warmup: 200, concurrency: 20, every: 20 });
const openaiKey = 'sk-bench-key';
const speech = loadFixture('caller-booking');

type Server = ForkedProcess<SoakMessage, SoakServerMessage>;

async function main(): Promise<void> {
  deadline(120_000 + (options.warmup + options.calls) * 1_000, 'bench:soak');
  const startedAt = new Date();
  const run = randomBytes(4).readUInt32BE(0);
  let database: BenchDatabase | undefined;
  let openai: OpenAIRealtimeStandIn | undefined;
  let twilioApi: TwilioApiStandIn | undefined;
  let server: Server | undefined;
  try {
    database = await startBenchDatabase();
    openai = await startOpenAIRealtimeStandIn({ apiKey: openaiKey, pace: 'instant' });
    twilioApi = await startTwilioApiStandIn({ accountSid: twilioAccountSid, authToken: twilioAuthToken });
    server = new ForkedProcess<SoakMessage, SoakServerMessage>(
      new URL('./support/soak-server.child.ts', import.meta.url),
      { BENCH_DATABASE_URL: database.url, BENCH_SERVER_ENV: JSON.stringify({ OPENAI_API_KEY: openaiKey, OPENAI_REALTIME_URL: openai.url, TWILIO_API_URL: twilioApi.url }) },
      ['--expose-gc'],
    );
    const { url } = await server.request('up');
    const placeCall = (i: number) => call(url, benchCallSid(run, i));
    const countRows = () => callRows(database!.url);
    process.stdout.write(`soak: ${options.calls} calls (+${options.warmup} warm-up), ${options.concurrency} at a time, ${database.server}\n`);

    const start = await sample(server);
    await inParallel(options.warmup, 0, placeCall, () => {});
    await until(async () => (await countRows()).ended === options.warmup, 'the warm-up calls to be written', 30_000, 50);
    const warm = await idleSample(server);
    const snapshots = process.env.SOAK_HEAP_SNAPSHOTS;
    if (snapshots) await server.request('written', { type: 'snapshot', file: `${snapshots}/after-warm-up.heapsnapshot` });

    const checkpoints: Checkpoint[] = [];
    let checkpointing = Promise.resolve();
    const soakStart = performance.now();
    await inParallel(options.calls, options.warmup, placeCall, (done) => {
      if (done % options.every !== 0 && done !== options.calls) return;
      // In order, one at a time, while the other calls go on.
      checkpointing = checkpointing.then(async () => {
        const before = await sample(server!, false);
        const after = await sample(server!, true);
        checkpoints.push({ calls: done, rssBytes: before.rssBytes, heapUsedBytes: before.heapUsedBytes, gcRssBytes: after.rssBytes, gcHeapUsedBytes: after.heapUsedBytes, gcCodeBytes: after.codeBytes });
        process.stdout.write(`  ${done} calls: RSS ${mib(before.rssBytes)}, heap ${mib(before.heapUsedBytes)}; after GC ${mib(after.heapUsedBytes)}, of which code ${mib(after.codeBytes)}\n`);
      });
    });
    await checkpointing;
    const soakSeconds = (performance.now() - soakStart) / 1000;
    const placed = options.warmup + options.calls;
    await until(async () => (await countRows()).ended === placed, 'every call to be written', 60_000, 100).catch(() => {});
    const rows = await countRows();
    const end = await sample(server, false);
    const endGc = await idleSample(server);
    if (snapshots) await server.request('written', { type: 'snapshot', file: `${snapshots}/after-soak.heapsnapshot` });

    const figures: SoakFigures = { startedAt, database: database.server, options, command: commandLine('bench:soak', 'bench/soak.bench.ts'), soakSeconds, start, warm, end, endGc, checkpoints, placed, rows };
    const report = renderSoak(figures);
    process.stdout.write(`\n${report}\n`);
    writeSection('soak', 'Soak', report);
    process.stdout.write('\nwritten to BENCHMARKS.md (section bench:soak)\n');
    if (rows.ended !== placed || rows.live > 0) process.exitCode = 1;
  } finally {
    await server?.close({ type: 'close' });
    await openai?.close();
    await twilioApi?.close();
    await database?.stop();
  }
}

/**
 * One short real call: the signed voice webhook, the media stream, `start`; the agent's
 * greeting heard; the caller's request and half a second of silence; `stop`.
 */
async function call(appUrl: string, callSid: string): Promise<void> {
  const response = await postTwilioWebhook(appUrl, '/twilio/voice', inboundCallParams({ accountSid: twilioAccountSid, callSid, from: callerNumber, to: businessNumber }));
  if (response.status !== 200) throw new Error(`voice webhook answered ${response.status}: ${response.body}`);
  const caller = await SimulatedCaller.connect(`${appUrl.replace(/^http/, 'ws')}/twilio/media`, { callSid, accountSid: twilioAccountSid, customParameters: { token: streamOf(response.body).token } });
  try {
    caller.start();
    await caller.waitFor((message) => message.event === 'media', 10_000);
    await caller.play(speech, { pace: 'instant' });
    await caller.silence(500, { pace: 'instant' });
  } finally {
    caller.stop();
    await caller.close();
  }
}

/** Runs `count` calls numbered from `first`, `options.concurrency` at a time; `onDone` gets how many have finished. */
async function inParallel(count: number, first: number, run: (i: number) => Promise<void>, onDone: (done: number) => void): Promise<void> {
  let next = 0;
  let done = 0;
  const lane = async () => {
    while (next < count) {
      const i = next++;
      await run(first + i);
      onDone(++done);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, count) }, lane));
}

function sample(server: Server, gc = false) {
  return server.request('sampled', { type: 'sample', gc });
}

/**
 * Memory and handles once the line is quiet: sampled (after GC) every second until the
 * number of handles has not changed for `stableMs` — idle keep-alive connections (5 s) and
 * pooled database connections (node-postgres: 10 s) close by timers of their own — or 60 s
 * have passed.
 */
async function idleSample(server: Server, stableMs = 12_000) {
  const deadlineAt = performance.now() + 60_000;
  let last = await sample(server, true);
  let since = performance.now();
  while (performance.now() - since < stableMs && performance.now() < deadlineAt) {
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const next = await sample(server, true);
    if (handleCount(next) !== handleCount(last)) since = performance.now();
    last = next;
  }
  return last;
}

/** The calls in the database by state: ended (an end reason written) and still live. */
async function callRows(url: string): Promise<{ total: number; ended: number; live: number }> {
  const { rows } = await withPgClient(url, (client) =>
    client.query<{ total: string; ended: string; live: string }>(
      `select count(*) as total, count(*) filter (where end_reason is not null and ended_at is not null) as ended,
              count(*) filter (where status = any($1)) as live from calls`,
      [liveCallStatuses],
    ),
  );
  const row = rows[0]!;
  return { total: Number(row.total), ended: Number(row.ended), live: Number(row.live) };
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:soak failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
