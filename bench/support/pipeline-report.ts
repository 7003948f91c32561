import { cpus } from 'node:os';
import type { PipelineTally } from './pipeline-load.ts';
import { commandLine, machine, revision } from './report.ts';
import { fmt, ratio, summarize, table } from './stats.ts';

/** DESIGN.md: ≥ 100 calls/s end to end with instant stand-ins on 2 cores. */
export const pipelineBudget = { callsPerSecond: 100 };

/** One pipeline's results, checked. */
export interface PipelineFigures {
  name: string;
  /** Calls sent (warm-up included) and how the receiver saw them. */
  sent: number;
  delivered: number;
  duplicates: number;
  /** Webhooks not verified or not answered 200. */
  bad: number;
  tally: PipelineTally;
  problems: string[];
}

export interface PipelineRun {
  startedAt: Date;
  options: { calls: number; concurrency: number; warmup: number };
  rounds: number;
  database: string;
  postgresMeasured: boolean;
  /** How Callwatch's workers ran, e.g. "16 jobs at once per queue, claimed 4 at a time". */
  workers: string;
}

/** The BENCHMARKS.md block of bench:pipeline: Callwatch against the bare pipeline, side by side. */
export function renderPipelineReport([cw, bare]: [PipelineFigures, PipelineFigures], run: PipelineRun): string {
  const perSecond = (f: PipelineFigures) => (f.tally.calls / f.tally.wallMs) * 1_000;
  const corePercent = (ms: number, f: PipelineFigures) => (100 * ms) / f.tally.wallMs;
  const perCall = (ms: number, f: PipelineFigures) => ms / f.tally.calls;
  const latency = (f: PipelineFigures) => summarize(f.tally.latencies);
  const share = (f: PipelineFigures, key: 'busy' | 'steal') => (f.tally.machine.total > 0 ? (100 * f.tally.machine[key]) / f.tally.machine.total : Number.NaN);
  const postgres = (f: PipelineFigures) => (run.postgresMeasured ? f.tally.postgresCpuMs : Number.NaN);
  const withPostgres = (f: PipelineFigures) => f.tally.cpuMs + (Number.isNaN(postgres(f)) ? 0 : postgres(f));
  // What kept the machine busy besides the pipeline, Postgres and this process: other processes, interrupts.
  const others = (f: PipelineFigures) => Math.max(0, share(f, 'busy') - corePercent(withPostgres(f) + f.tally.generatorCpuMs, f) / cpus().length);
  const row = (label: string, show: (f: PipelineFigures) => string, compare?: (f: PipelineFigures) => number) => [label, show(cw), show(bare), compare ? ratio(compare(cw), compare(bare)) : ''];
  const stolen = Math.max(share(cw, 'steal'), share(bare, 'steal'));
  const crowded = Math.max(others(cw), others(bare));
  const rate = perSecond(cw);
  return [
    `Run ${run.startedAt.toISOString()} on ${machine()}; Callwatch ${revision()}; ${run.database}.` +
      (stolen > 5 ? ` **Noisy run: the hypervisor took ${fmt(stolen)} % of the cores while one of the pipelines was measured; compare ratios, not absolute figures, or run again.**` : '') +
      (crowded > 10 ? ` **Crowded run: something else kept ${fmt(crowded)} % of the cores busy while one of the pipelines was measured; run again.**` : ''),
    `Command: \`${commandLine('bench:pipeline', 'bench/pipeline.bench.ts')}\` — ${run.options.calls} calls per pipeline after ${run.options.warmup} warm-up calls, ` +
      `${run.options.concurrency} calls in flight end to end (each lane sends a recording callback, waits for that call's webhook, then sends the next), ` +
      `in ${run.rounds} rounds of the two pipelines taking turns. Each pipeline alone in a child process — Callwatch as \`node src/main.ts\` with ROLE=all, ` +
      `its workers at their defaults (${run.workers}); the Twilio and OpenAI stand-ins (instant), the webhook receiver (standardwebhooks verification) ` +
      'and the load generator in the benchmark process.',
    '',
    table(
      ['per pipeline', 'Callwatch', 'bare pipeline (baseline)', 'Callwatch / bare'],
      [
        row('calls sent / delivered / duplicated / not verified or not 200', (f) => `${f.sent} / ${f.delivered} / ${f.duplicates} / ${f.bad}`),
        row('**calls per second**, end to end', (f) => fmt(perSecond(f)), perSecond),
        row('latency callback → webhook p50 (ms)', (f) => fmt(latency(f).p50), (f) => latency(f).p50),
        row('latency p99 / max (ms)', (f) => `${fmt(latency(f).p99)} / ${fmt(latency(f).max)}`, (f) => latency(f).p99),
        row('pipeline process CPU, % of one core (of it kernel)', (f) => `${fmt(corePercent(f.tally.cpuMs, f))} (${fmt(corePercent(f.tally.systemMs, f))})`),
        row('pipeline process CPU per call, ms', (f) => fmt(perCall(f.tally.cpuMs, f)), (f) => perCall(f.tally.cpuMs, f)),
        row('Postgres CPU, % of one core / per call, ms', (f) => `${fmt(corePercent(postgres(f), f))} / ${fmt(perCall(postgres(f), f))}`),
        row('**pipeline + Postgres CPU per call, ms**', (f) => fmt(perCall(withPostgres(f), f)), (f) => perCall(withPostgres(f), f)),
        row('pipeline process RSS after a round (largest)', (f) => `${(f.tally.rssBytes / 2 ** 20).toFixed(1)} MiB`),
        row('load generator + stand-ins + receiver CPU, % of one core', (f) => fmt(corePercent(f.tally.generatorCpuMs, f))),
        row('machine busy / of it others / stolen by the hypervisor, % of all cores', (f) => `${fmt(share(f, 'busy'))} / ${fmt(others(f))} / ${fmt(share(f, 'steal'))}`),
      ],
    ),
    '',
    `Latency is the webhook's arrival at the receiver − the moment its recording callback was sent, on one clock; with ${run.options.concurrency} calls in flight it is mostly waiting in line. ` +
      `CPU is user + system time from /proc over the measured rounds' wall time, on ${cpus().length} cores shared by the pipeline, Postgres and the benchmark process; ` +
      (run.postgresMeasured
        ? "Postgres is the server and all its backends (the bare pipeline's column: what the server and the idle Callwatch used meanwhile)."
        : 'Postgres runs elsewhere (DATABASE_URL) and is not measured.'),
    '',
    `Budget: ≥ ${pipelineBudget.callsPerSecond} calls/s end to end — ${rate >= pipelineBudget.callsPerSecond ? 'met' : 'missed'} (${fmt(rate)} calls/s; the bare pipeline did ${fmt(perSecond(bare))}, Callwatch ${ratio(rate, perSecond(bare))} of it).`,
  ].join('\n');
}
