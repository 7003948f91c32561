/**
 * `npm run bench:fanout [-- --subscribers 500 --events 200 --rate 50 --client-processes 1]` —
 * one call's events fanned out to N GraphQL subscribers: the time from `bus.publish` to a
 * graphql-ws client's `next`, per (event, subscriber), on the in-process bus and — when Redis
 * answers on 127.0.0.1:6379 — on the Redis bus (REDIS_URL). The baseline, in the same run, is
 * the same N subscribers on bare `ws` sockets getting the same JSON frame broadcast by a bare
 * `ws` server. The subscribers run in forked client processes (`support/fanout-clients.ts`),
 * so this process only serves and publishes; latencies are taken across the two processes on
 * a wall-clock based clock (`benchClock`), whose skew between them is measured and reported.
 * Every subscriber must get every event exactly once and in order, or the run exits 1.
 * Prints a table and writes it into BENCHMARKS.md.
 */
import type { Callwatch } from '../src/app.ts';
import { issueApiKey } from '../src/entities/api-key.repository.ts';
import { createBusiness, createCall } from '../test/support/factories.ts';
import { deadline, numberOptions, sleep, until } from './support/args.ts';
import { startBenchApp } from './support/app.ts';
import { startBenchDatabase, type BenchDatabase } from './support/database.ts';
import { startClientProcesses, type ClientTarget } from './support/fanout-clients.ts';
import { redisAnswers, stampedEvent, startRawFanOutServer } from './support/fanout-subscribers.ts';
import { machineLoad, sampleMachine } from './support/process-usage.ts';
import { commandLine, machine, revision, writeSection } from './support/report.ts';
import { fmt, ratio, summarize, table, type Summary } from './support/stats.ts';

const defaults = { subscribers: 500, events: 200, rate: 50, 'client-processes': 1 };
const options = numberOptions('npm run bench:fanout -- [--subscribers 500] [--events 200] [--rate 50] [--client-processes 1]', defaults);
const clientProcesses = Math.min(options['client-processes'], options.subscribers);
/** DESIGN budget: 500 subscribers of one call, p99 publish → receipt ≤ 20 ms on the in-process bus. */
const budget = { subscribers: 500, p99Ms: 20 };
const redis = { host: '127.0.0.1', port: 6379 };

interface Row {
  name: string;
  /** Null when measured; else why the row was skipped. */
  skipped: string | null;
  latency: Summary;
  /** Per event, when the last subscriber had it. */
  last: Summary;
  /** How late the publisher ran against its schedule (the event loop was busy), ms. */
  publishLagMax: number;
  setupMs: number;
  /** How far apart the clocks of this process and the client processes were, ms. */
  clockSkewMs: number;
  problem: string | null;
}

async function main(): Promise<void> {
  deadline(60_000 + 3 * ((options.events / options.rate) * 1_000 + options.subscribers * 40), 'bench:fanout');
  const startedAt = new Date();
  const machineFrom = sampleMachine();
  let database: BenchDatabase | undefined;
  const rows: Row[] = [];
  try {
    database = await startBenchDatabase();
    process.stdout.write(`fanout: ${options.subscribers} subscribers, ${options.events} events at ${options.rate}/s per variant; ${database.server}\n`);

    rows.push(await measureBaseline('bare ws broadcast (baseline)'));
    rows.push(await measureCallwatch('GraphQL, in-process bus', database.url, {}));
    const redisDown = await redisAnswers(redis.host, redis.port);
    if (redisDown) {
      process.stdout.write(`skipping the Redis bus: ${redisDown}\n`);
      rows.push(skippedRow('GraphQL, Redis bus', redisDown));
    } else {
      rows.push(await measureCallwatch('GraphQL, Redis bus', database.url, { REDIS_URL: `redis://${redis.host}:${redis.port}` }));
    }
  } finally {
    await database?.stop();
  }

  const load = machineLoad(machineFrom, sampleMachine());
  const report = render(rows, { database: database?.server ?? '?', startedAt, machine: load });
  process.stdout.write(`\n${report}\n`);
  // Other client-process counts get sections of their own rather than replacing the usual figures.
  const processesNote = clientProcesses === 1 ? '' : `-${clientProcesses}-client-processes`;
  const isDefault = options.subscribers === defaults.subscribers && options.rate === defaults.rate && processesNote === '';
  const id = isDefault ? 'fanout' : `fanout:${options.subscribers}-subscribers-${options.rate}-per-s${processesNote}`;
  const heading = `Subscription fan-out, ${options.subscribers} subscribers at ${options.rate} events/s${clientProcesses === 1 ? '' : `, ${clientProcesses} client processes`}`;
  writeSection(id, isDefault ? 'Subscription fan-out' : heading, report);
  process.stdout.write(`\nwritten to BENCHMARKS.md (section bench:${id})\n`);
  const failed = rows.filter((row) => row.problem !== null);
  if (failed.length > 0) {
    for (const row of failed) process.stderr.write(`${row.name}: ${row.problem}\n`);
    process.exitCode = 1;
  }
}

/** The bare `ws` server in this process, broadcasting to the clients' bare sockets. */
async function measureBaseline(name: string): Promise<Row> {
  const server = await startRawFanOutServer();
  try {
    return await measure(name, { kind: 'raw', url: server.url }, (seq) => server.broadcast(stampedEvent('call', seq)));
  } finally {
    await server.close();
  }
}

/** Callwatch (api role, `env` added) on `databaseUrl`, a call of a fresh business, and its subscribers over graphql-ws. */
async function measureCallwatch(name: string, databaseUrl: string, env: Record<string, string>): Promise<Row> {
  let app: Callwatch | undefined;
  try {
    app = await startBenchApp(databaseUrl, { env });
    const { em } = app.services.orm;
    const business = await createBusiness(em);
    const call = await createCall(em, business.id, { status: 'in-progress', durationSec: null });
    const { key } = await issueApiKey(em.fork(), { businessId: business.id, role: 'viewer', name: 'bench:fanout' });
    const url = `ws://127.0.0.1:${app.http!.port}/graphql`;
    const bus = app.services.bus;
    return await measure(name, { kind: 'graphql', url, apiKey: key, callId: call.id }, (seq) => bus.publish('call:events', call.id, stampedEvent(call.id, seq)));
  } finally {
    await app?.close();
  }
}

/**
 * Starts the client processes and has them open the subscribers of `target`, publishes
 * warm-up events every 50 ms until each subscriber has received one (so every subscription
 * is live), then `options.events` events at `options.rate`/s on a fixed schedule, collects
 * the receipts and ends the client processes. Setup time leaves out Node's start-up.
 */
async function measure(name: string, target: ClientTarget, publish: (seq: number) => void): Promise<Row> {
  const clients = await startClientProcesses(clientProcesses, options.subscribers);
  try {
    const setupFrom = performance.now();
    await clients.open(target, options.events);
    await until(
      () => {
        publish(-1);
        return clients.allWarmed();
      },
      `${name}: every subscriber's first warm-up event`,
      15_000,
      50,
    );
    const setupMs = performance.now() - setupFrom;
    // Warm-up events still in flight arrive before the measured ones (order per subscriber).
    await sleep(200);

    const interval = 1_000 / options.rate;
    const t0 = performance.now();
    let publishLagMax = 0;
    for (let seq = 0; seq < options.events; seq++) {
      const due = t0 + seq * interval;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      publishLagMax = Math.max(publishLagMax, performance.now() - due);
      publish(seq);
    }
    const receipts = await clients.collect(10_000);
    const row: Row = {
      name,
      skipped: null,
      latency: summarize(receipts.latencies),
      last: summarize(receipts.lastReceipt),
      publishLagMax,
      setupMs,
      clockSkewMs: clients.clockSkewMs,
      problem: receipts.problem,
    };
    process.stdout.write(`${name}: p50 ${fmt(row.latency.p50)} ms, p99 ${fmt(row.latency.p99)} ms, max ${fmt(row.latency.max)} ms${row.problem ? ` — FAILED: ${row.problem}` : ''}\n`);
    return row;
  } finally {
    await clients.close();
  }
}

function skippedRow(name: string, reason: string): Row {
  const none = summarize([]);
  return { name, skipped: reason, latency: none, last: none, publishLagMax: Number.NaN, setupMs: Number.NaN, clockSkewMs: Number.NaN, problem: null };
}

interface RunInfo {
  database: string;
  startedAt: Date;
  machine: { busy: number; steal: number };
}

function render(rows: Row[], run: RunInfo): string {
  const [baseline] = rows as [Row];
  const inProcess = rows.find((row) => row.name === 'GraphQL, in-process bus');
  const body = rows.map((row) =>
    row.skipped
      ? [row.name, `skipped: ${row.skipped}`, '', '', '', '', '', '', '']
      : [
          row.name,
          fmt(row.latency.p50),
          fmt(row.latency.p99),
          fmt(row.latency.max),
          fmt(row.last.p99),
          row === baseline ? '1×' : ratio(row.latency.p99, baseline.latency.p99),
          fmt(row.publishLagMax),
          fmt(row.setupMs / 1_000),
          row.problem ? `**no: ${row.problem}**` : 'yes',
        ],
  );
  const verdict =
    options.subscribers !== budget.subscribers || !inProcess || inProcess.skipped
      ? `not checked (the budget is for ${budget.subscribers} subscribers)`
      : inProcess.latency.p99 <= budget.p99Ms
        ? `met (${fmt(inProcess.latency.p99)} ms)`
        : `**missed (${fmt(inProcess.latency.p99)} ms)**`;
  const interval = 1_000 / options.rate;
  const measured = rows.filter((row) => !row.skipped);
  const clockSkewMs = Math.max(...measured.map((row) => row.clockSkewMs));
  const saturated = rows.filter((row) => !row.skipped && row.publishLagMax > interval).map((row) => row.name);
  return [
    `Run ${run.startedAt.toISOString()} on ${machine()}; Callwatch ${revision()}; ${run.database}. ` +
      `The machine was ${fmt(100 * run.machine.busy)} % busy over the run and the hypervisor took ${fmt(100 * run.machine.steal)} % of its cores` +
      (run.machine.steal > 0.05 ? ' — **a noisy run: compare the ratios, not the absolute figures, or run again**.' : '.'),
    `Command: \`${commandLine('bench:fanout', 'bench/fanout.bench.ts')}\` — ${options.subscribers} subscribers of one call, ` +
      `${options.events} \`transcript.delta\` events per row at ${options.rate}/s, after warm-up events until every subscriber had one. ` +
      `**The subscribers run in ${clientProcesses === 1 ? 'a separate client process' : `${clientProcesses} separate client processes`}** (forked per row, same 2-core VM, loopback): ` +
      `the server process only serves and publishes. Latency is publish (server process) → receipt (client process), both read on \`performance.timeOrigin + performance.now()\`; ` +
      `the processes' clocks were at most ${fmt(clockSkewMs * 1_000)} µs apart` +
      (clockSkewMs > 0.1 ? ' — **more than 0.1 ms: the sub-millisecond figures are not to be trusted**.' : '.'),
    '',
    table(['variant', 'p50 ms', 'p99 ms', 'max ms', 'p99 last subscriber ms', 'p99 / baseline', 'publisher late, max ms', 'setup s', `all ${options.events} events to all, once, in order`], body),
    '',
    ...(saturated.length > 0
      ? [
          `**Saturated:** ${saturated.join(', ')} — the publisher ran more than one interval (${fmt(interval)} ms) late, so the server process could not fan out ${options.rate} events/s ` +
            `to ${options.subscribers} subscribers and the figures are mostly queueing; \`--rate\` lower shows the latency of one event.`,
          '',
        ]
      : []),
    `Budget: ${budget.subscribers} subscribers, p99 ≤ ${budget.p99Ms} ms on the in-process bus — ${verdict}.`,
  ].join('\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:fanout failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
