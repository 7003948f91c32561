import { fmt, table } from './stats.ts';

/** A relay's measured rounds, in order. */
interface Rounds {
  rounds: readonly { wallMs: number; cpuMs: number; frames: number }[];
}

/**
 * Metrics and tracing on ÷ off: the CPU time (user + system) each Callwatch spent relaying
 * the same frames — in each round both carried the same calls and frames, one after the
 * other. CPU for the same work, not CPU over wall time: on a crowded machine the load
 * generator falls behind and stretches a round's wall time, which would move a per-second
 * figure without the relay doing anything different.
 */
export interface TelemetryComparison {
  /** All rounds' CPU per frame, on ÷ off: the figure the budget is held to. */
  overall: number;
  /** The same, round by round. */
  perRound: number[];
  median: number;
  mean: number;
  /** Sample standard deviation of the per-round ratios. */
  sd: number;
  min: number;
  max: number;
}

/** Compares two Callwatch relays that carried the same calls in the same rounds. */
export function compareTelemetry(on: Rounds, off: Rounds): TelemetryComparison {
  const perFrame = (r: { cpuMs: number; frames: number }) => r.cpuMs / r.frames;
  const total = (r: Rounds) => r.rounds.reduce((sum, x) => sum + x.cpuMs, 0) / r.rounds.reduce((sum, x) => sum + x.frames, 0);
  const n = Math.min(on.rounds.length, off.rounds.length);
  const perRound = Array.from({ length: n }, (_, i) => perFrame(on.rounds[i]!) / perFrame(off.rounds[i]!));
  const sorted = [...perRound].sort((a, b) => a - b);
  const mean = perRound.reduce((sum, x) => sum + x, 0) / n;
  const sd = n > 1 ? Math.sqrt(perRound.reduce((sum, x) => sum + (x - mean) ** 2, 0) / (n - 1)) : Number.NaN;
  const median = n % 2 === 1 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
  return { overall: total(on) / total(off), perRound, median, mean, sd, min: sorted[0]!, max: sorted[n - 1]! };
}

/** What the "on" side's telemetry did during the run. */
export interface TelemetryActivity {
  spans: number;
  /** Spans by name. */
  names: ReadonlyMap<string, number>;
  exports: number;
  exportBytes: number;
  scrapes: number;
  scrapesFailed: number;
  scrapeBytes: number;
  scrapeEverySec: number;
}

/** The A/B's paragraph and table for BENCHMARKS.md. */
export function renderTelemetry(
  ab: { turns: TelemetryComparison; sideBySide: TelemetryComparison; pairs: number[] },
  activity: TelemetryActivity,
  budgetRatio: number,
): string {
  const x = (value: number) => `${value.toFixed(3)}×`;
  const row = (label: string, c: TelemetryComparison) => [label, x(c.overall), x(c.median), `${x(c.mean)} ± ${c.sd.toFixed(3)}`, `${x(c.min)} – ${x(c.max)}`, c.perRound.map((r) => r.toFixed(3)).join(', ')];
  const held = ab.sideBySide.overall;
  const verdict = held <= budgetRatio ? 'met' : 'missed';
  return [
    table(
      ['metrics + tracing on ÷ off, CPU for the same frames', 'overall', 'median of rounds', 'mean ± sd of rounds', 'min – max of rounds', 'rounds'],
      [row('taking turns (the rounds above)', ab.turns), row(`side by side (both in the same seconds), ${ab.pairs.length} pair(s) of processes pooled`, ab.sideBySide)],
    ),
    '',
    `Side by side, pair by pair (each a fresh "on" and "off" process, the same rounds): ${ab.pairs.map(x).join(', ')}. ` +
      'One pair moves by several per cent with the luck of its two processes (their JIT, their cores), more than the telemetry costs, so the pairs are pooled.',
    '',
    `"On": \`src/main.ts\` with OTEL_EXPORTER_OTLP_ENDPOINT at an OTLP/HTTP receiver in the benchmark process (${activity.spans} spans in ${activity.exports} exports, ${fmt(activity.exportBytes / 1024)} KiB, over the whole run: ` +
      `${[...activity.names].sort((a, b) => b[1] - a[1]).map(([name, count]) => `${count} \`${name}\``).join(', ')}) ` +
      `and /metrics scraped every ${activity.scrapeEverySec} s with its token (${activity.scrapes} scrapes, ${activity.scrapesFailed} failed, ${fmt(activity.scrapeBytes / activity.scrapes / 1024)} KiB each). ` +
      '"Off": `bench/callwatch-metrics-off.ts` — the same Callwatch with tracing off and every metric call a no-op, no process metrics, nobody scraping (a benchmark-only variant; configuration cannot turn metrics off). ' +
      `Budget: metrics and tracing together ≤ ${budgetRatio}× the CPU per call — ${verdict} (${x(held)} side by side, ${x(ab.turns.overall)} taking turns).`,
  ].join('\n');
}
