/**
 * `npm run bench:graphql-oversized [-- --clients 8 --seconds 8 --kilobytes 1024]`
 * — what anonymous oversized GraphQL documents do to the server's event loop, the one every
 * call's audio shares (security review F2). N clients POST documents of about 1 MB without
 * a key, each different (`{ rN: __typename health { ready } health { ready } … }`), one
 * after another as fast as the server answers, for a bounded window. Callwatch runs in a
 * forked process (`support/graphql-server.child.ts`) that measures its own event-loop delay
 * with perf_hooks' monitorEventLoopDelay; the clients run in another
 * (`support/graphql-load.child.ts`); this process times a `GET /health` every 20 ms, as a
 * load balancer or a Twilio webhook would see the server. The same load runs against
 * Callwatch with its default limits and, as the baseline in the same run, against one with
 * the limits out of reach (GRAPHQL_MAX_BODY_BYTES and GRAPHQL_MAX_TOKENS = 2^30), one
 * window each, on the limits first (the baseline's stalls would spill into a window after
 * it). Prints a table and writes it into BENCHMARKS.md.
 */
import { get } from 'node:http';
import { deadline, numberOptions, sleep } from './support/args.ts';
import { startBenchDatabase, type BenchDatabase } from './support/database.ts';
import { ForkedProcess } from './support/forked-process.ts';
import type { LoadCommand, LoadReport } from './support/graphql-load.child.ts';
import type { BenchMessage, LoopDelay, ServerMessage } from './support/graphql-server.child.ts';
import { machineLoad, sampleMachine, sampleProcess } from './support/process-usage.ts';
import { commandLine, machine, revision, writeSection } from './support/report.ts';
import { fmt, ratio, summarize, table } from './support/stats.ts';

const defaults = { clients: 8, seconds: 8, kilobytes: 1024 };
const options = numberOptions('npm run bench:graphql-oversized -- [--clients 8] [--seconds 8] [--kilobytes 1024]', defaults);
const probeEveryMs = 20;
const outOfReach = String(2 ** 30);

interface Variant {
  name: string;
  env: Record<string, string>;
}

const variants: Variant[] = [
  { name: 'limits on (defaults: 100 kB, 5000 tokens)', env: {} },
  { name: 'limits off (baseline)', env: { GRAPHQL_MAX_BODY_BYTES: outOfReach, GRAPHQL_MAX_TOKENS: outOfReach } },
];

type Server = ForkedProcess<BenchMessage, ServerMessage>;
type Load = ForkedProcess<LoadCommand, LoadReport>;

/** One variant's server and what its window measured. */
interface Measured {
  variant: Variant;
  server: Server;
  url: string;
  statuses: Record<string, number>;
  health: number[];
  measuredMs: number;
  serverCpuMs: number;
  rssBytes: number;
  loop?: LoopDelay;
}

/**
 * Milliseconds until `GET /health` has answered, on a connection of its own: a kept-alive
 * one may be closed by a server that wakes from a stall, under the request.
 */
function timeHealth(url: string): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    get(`${url}/health`, { agent: false }, (response) => {
      response.resume();
      response.once('end', () => resolve(performance.now() - t0));
    }).once('error', reject);
  });
}

/** Times a GET /health every `probeEveryMs` until `signal` aborts; the last probe is let finish. */
async function probe(url: string, signal: AbortSignal, samples: number[]): Promise<void> {
  while (!signal.aborted) {
    samples.push(await timeHealth(url));
    await sleep(probeEveryMs);
  }
}

/** Waits until the server answers /health within 20 ms: whatever the last window left it doing is done. */
async function settle(url: string): Promise<void> {
  const until = performance.now() + 120_000;
  while ((await timeHealth(url)) >= 20) {
    if (performance.now() > until) throw new Error('the server stayed busy for 2 minutes after a window');
    await sleep(50);
  }
}

/** The measuring window of `item` under the load. */
async function measureWindow(item: Measured, load: Load): Promise<void> {
  await settle(item.url);
  const stop = new AbortController();
  item.server.send({ type: 'measure' });
  const cpuFrom = sampleProcess(item.server.pid);
  const t0 = performance.now();
  const probing = probe(item.url, stop.signal, item.health);
  load.send({ type: 'start', url: item.url, clients: options.clients, bytes: options.kilobytes * 1024 });
  await sleep(options.seconds * 1_000);
  stop.abort();
  const stopped = load.request('stopped', { type: 'stop' });
  // Answered once the server's loop is free: a stall begun in the window is measured whole.
  const { type: _paused, ...loop } = await item.server.request('paused', { type: 'pause' });
  const cpuTo = sampleProcess(item.server.pid);
  const [{ statuses }] = await Promise.all([stopped, probing]);
  item.statuses = statuses;
  item.loop = loop;
  item.measuredMs = cpuTo.at - t0;
  item.serverCpuMs = cpuTo.cpuMs - cpuFrom.cpuMs;
  item.rssBytes = cpuTo.rssBytes;
}

async function main(): Promise<void> {
  deadline(300_000 + variants.length * options.seconds * 1_000, 'bench:graphql-oversized');
  const startedAt = new Date();
  let database: BenchDatabase | undefined;
  let load: Load | undefined;
  const measured: Measured[] = [];
  try {
    database = await startBenchDatabase();
    process.stdout.write(`graphql-oversized: ${options.clients} clients × ${options.kilobytes} KiB documents, ${options.seconds} s per variant; ${database.server}\n`);
    // One after the other: the first migrates the database.
    for (const variant of variants) {
      const server: Server = new ForkedProcess(new URL('./support/graphql-server.child.ts', import.meta.url), {
        BENCH_DATABASE_URL: database.url,
        BENCH_SERVER_ENV: JSON.stringify(variant.env),
      });
      measured.push({ variant, server, url: '', statuses: {}, health: [], measuredMs: 0, serverCpuMs: 0, rssBytes: 0 });
      measured.at(-1)!.url = (await server.request('up')).url;
    }
    load = new ForkedProcess(new URL('./support/graphql-load.child.ts', import.meta.url), {});
    const machineFrom = sampleMachine();
    for (const item of measured) {
      process.stdout.write(`  ${item.variant.name}\n`);
      await measureWindow(item, load);
    }
    const machineLoadShare = machineLoad(machineFrom, sampleMachine());

    const report = render(measured, { startedAt, database: database.server, machine: machineLoadShare });
    process.stdout.write(`\n${report}\n`);
    // Other sizes get blocks of their own (e.g. `-- --kilobytes 20`: small documents that pass the size limits).
    const isDefault = options.kilobytes === defaults.kilobytes;
    writeSection(
      isDefault ? 'graphql-oversized' : `graphql-oversized:${options.kilobytes}-KiB`,
      isDefault ? 'GraphQL: oversized documents and the event loop' : `GraphQL: ${options.kilobytes} KiB documents and the event loop`,
      report,
    );
  } finally {
    await Promise.all([load?.close({ type: 'close' }), ...measured.map((item) => item.server.close({ type: 'close' }))]);
    await database?.stop();
  }
}

interface RunInfo {
  startedAt: Date;
  database: string;
  machine: { busy: number; steal: number };
}

function render(all: Measured[], run: RunInfo): string {
  const rows = all.map((item) => {
    const health = summarize(item.health);
    const loop = item.loop!;
    const answered = Object.entries(item.statuses)
      .sort()
      .map(([status, n]) => `${n} × ${status}`)
      .join(', ');
    const requests = Object.values(item.statuses).reduce((sum, n) => sum + n, 0);
    const cells = [
      item.variant.name,
      `${requests} (${answered || 'none answered'})`,
      `${fmt(loop.p50)} / ${fmt(loop.p99)} / ${fmt(loop.max)}`,
      `${fmt(health.p50)} / ${fmt(health.p99)} / ${fmt(health.max)}`,
      fmt((100 * item.serverCpuMs) / item.measuredMs),
      fmt(item.rssBytes / 2 ** 20),
    ];
    return { loop, health, cells };
  });
  const [on, off] = rows as [(typeof rows)[number], (typeof rows)[number]];
  return [
    `Run ${run.startedAt.toISOString()} on ${machine()}; Callwatch ${revision()}; ${run.database}. ` +
      `While measuring, the machine was ${fmt(100 * run.machine.busy)} % busy and the hypervisor took ${fmt(100 * run.machine.steal)} % of its cores` +
      (run.machine.steal > 0.05 ? ' — **a noisy run: compare the ratios, not the absolute figures, or run again**.' : '.'),
    `Command: \`${commandLine('bench:graphql-oversized', 'bench/graphql-oversized.bench.ts')}\` — ${options.clients} clients POSTing anonymous documents of ` +
      `${options.kilobytes} KiB back to back, each different (\`{ rN: __typename health { ready } health { ready } … }\`), ${options.seconds} s per variant, ` +
      `limits on first. Callwatch (api role, production settings) in a child process per variant, its ` +
      `event-loop delay from monitorEventLoopDelay (10 ms sampling: an idle loop reads about 10 ms); the clients in another child process; ` +
      `\`GET /health\` every ${probeEveryMs} ms from the benchmark process.`,
    '',
    table(['variant', 'requests (by HTTP status)', 'server event-loop delay p50 / p99 / max, ms', '`/health` p50 / p99 / max, ms', 'server CPU, % of a core', 'server RSS, MB'], rows.map((row) => row.cells)),
    '',
    `Limits off / on: event-loop delay p99 ${ratio(off.loop.p99, on.loop.p99)}, max ${ratio(off.loop.max, on.loop.max)}; ` +
      `\`/health\` p99 ${ratio(off.health.p99, on.health.p99)}, max ${ratio(off.health.max, on.health.max)}.`,
  ].join('\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:graphql-oversized failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
