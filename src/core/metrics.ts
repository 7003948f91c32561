import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import packageJson from '../../package.json' with { type: 'json' };
import {
  counterHelp,
  counterNames,
  gaugeHelp,
  histograms,
  labeledCounters,
  labeledGauges,
  levelHelp,
  type CounterName,
  type GaugeName,
  type HistogramName,
  type LabeledCounterName,
  type LabeledGaugeName,
  type LevelName,
} from './metric-definitions.ts';

export { counterNames, type CounterName, type GaugeName, type HistogramName, type LabeledCounterName, type LabeledGaugeName, type LevelName };

/**
 * The label values one labeled metric tracks, and their longest length; values beyond
 * either are counted under `other`. The values come from outside (a remote service's
 * event types and codes): a bug or a hostile peer sending a new one per message must
 * not grow memory, or /metrics, without bound.
 */
export const maxLabelValues = 100;
export const maxLabelValueLength = 100;
export const otherLabelValue = 'other';

/**
 * How often the default process metrics' event-loop delay monitor samples
 * (`nodejs_eventloop_lag_*`), ms. prom-client's default, 10 ms, wakes the loop 100 times a
 * second: measured on an idle Callwatch, 4 ms of CPU a second — more than everything else it
 * does idle, and 1–2 % of a loaded relay's CPU. At 100 ms the monitor still catches any
 * stall longer than 100 ms and half of those of 50 ms, which is what the metric is for; a
 * call's own latency is in the turn and greeting histograms.
 */
const eventLoopSampleMs = 100;

/** Every metric's name starts with this. */
export const metricPrefix = 'callwatch_';

/** One sample of a labeled gauge. */
export interface GaugeSample {
  labels: Record<string, string>;
  value: number;
}

export interface MetricsOptions {
  /**
   * Adds prom-client's default process metrics (process_cpu_seconds_total,
   * process_resident_memory_bytes, nodejs_eventloop_lag_seconds, GC, heap). Off by default:
   * they start process-wide monitors (event-loop delay, GC observer) that a Metrics made
   * for a unit test has no use for. The app turns them on.
   */
  processMetrics?: boolean;
}

/**
 * Process-wide metrics, exposed at GET /metrics in Prometheus text format through
 * prom-client, in a Registry of this instance's own (tests run several apps in one process,
 * and the global registry would mix them and refuse a second registration).
 *
 * Counters stay plain integers in a Map, as before prom-client: `increment` is on the audio
 * path (twice per 20 ms frame per call: frames_to_openai_total, frames_to_twilio_total) and
 * keeps exactly its old cost, and `get`/`getLabeled` read synchronously (prom-client's own
 * values are read through an async `get`). The registry reads the integers only when
 * scraped, through each metric's `collect` callback. (Measured on Node 24: a Map update
 * ≈ 9–14 ns, an unlabeled prom-client `inc` ≈ 5 ns; at 100 calls, 10,000 a second, either
 * is ≈ 0.01 % of a core.) Histograms are observed per turn, per tool run, per step or per
 * attempt — never per frame — so they use prom-client directly.
 */
export class Metrics {
  /** This instance's registry: what /metrics renders. */
  readonly registry = new Registry();
  readonly #counts = new Map<CounterName, number>(counterNames.map((name) => [name, 0]));
  readonly #labeled = new Map<LabeledCounterName, Map<string, number>>();
  readonly #levels = new Map<LevelName, number>();
  readonly #gauges = new Map<GaugeName, () => number>();
  readonly #labeledGauges = new Map<LabeledGaugeName, () => Promise<GaugeSample[]>>();
  readonly #histograms = new Map<HistogramName, { histogram: Histogram; seen: Set<string> }>();

  constructor(options: MetricsOptions = {}) {
    const registers = [this.registry];
    const counts = this.#counts;
    for (const name of counterNames) {
      new Counter({
        name: `${metricPrefix}${name}`,
        help: counterHelp[name],
        registers,
        collect() {
          this.reset();
          this.inc(counts.get(name) ?? 0);
        },
      });
    }
    for (const [name, { label, help }] of Object.entries(labeledCounters) as [LabeledCounterName, (typeof labeledCounters)[LabeledCounterName]][]) {
      const values = this.#labeledValues(name);
      new Counter({
        name: `${metricPrefix}${name}`,
        help,
        labelNames: [label],
        registers,
        collect() {
          this.reset();
          for (const [value, count] of values) this.inc({ [label]: value }, count);
        },
      });
    }
    const levels = this.#levels;
    for (const [name, help] of Object.entries(levelHelp) as [LevelName, string][]) {
      levels.set(name, 0);
      new Gauge({
        name: `${metricPrefix}${name}`,
        help,
        registers,
        collect() {
          this.set(levels.get(name) ?? 0);
        },
      });
    }
    for (const [name, { help, labels, buckets }] of Object.entries(histograms) as [HistogramName, (typeof histograms)[HistogramName]][]) {
      const histogram = new Histogram({ name: `${metricPrefix}${name}`, help, labelNames: [...labels], buckets: [...buckets], registers });
      this.#histograms.set(name, { histogram, seen: new Set() });
    }
    new Gauge({ name: `${metricPrefix}build_info`, help: 'Always 1; its version label is the running build.', labelNames: ['version'], registers }).set({ version: packageJson.version }, 1);
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: eventLoopSampleMs });
  }

  increment(name: CounterName, by = 1): void {
    this.#counts.set(name, (this.#counts.get(name) ?? 0) + by);
  }

  get(name: CounterName): number {
    return this.#counts.get(name) ?? 0;
  }

  /**
   * Adds `by` to labeled counter `name` for label value `value` — or for `other` once the
   * counter tracks `maxLabelValues` values, or when `value` is empty or longer than
   * `maxLabelValueLength`.
   */
  incrementLabeled(name: LabeledCounterName, value: string, by = 1): void {
    const values = this.#labeledValues(name);
    const key = boundedValue(values, value);
    values.set(key, (values.get(key) ?? 0) + by);
  }

  /** The count of labeled counter `name` for exactly `value` (`other` holds the overflow). */
  getLabeled(name: LabeledCounterName, value: string): number {
    return this.#labeledValues(name).get(value) ?? 0;
  }

  #labeledValues(name: LabeledCounterName): Map<string, number> {
    let values = this.#labeled.get(name);
    if (!values) this.#labeled.set(name, (values = new Map()));
    return values;
  }

  /** Adds `by` (negative: takes away) to up-down count `name`, such as listeners joining and leaving. */
  adjust(name: LevelName, by: number): void {
    this.#levels.set(name, (this.#levels.get(name) ?? 0) + by);
  }

  /** The current value of up-down count `name`. */
  level(name: LevelName): number {
    return this.#levels.get(name) ?? 0;
  }

  /**
   * Reports `read()` as gauge `name` from now on (the last registration wins). A gauge no
   * one registered is not exposed: this process does not have what it measures.
   */
  gauge(name: GaugeName, read: () => number): void {
    const known = this.#gauges.has(name);
    this.#gauges.set(name, read);
    if (known) return;
    const readers = this.#gauges;
    new Gauge({
      name: `${metricPrefix}${name}`,
      help: gaugeHelp[name],
      registers: [this.registry],
      collect() {
        this.set(readers.get(name)?.() ?? 0);
      },
    });
  }

  /**
   * Reports the samples `read()` resolves to as labeled gauge `name` on each scrape (the last
   * registration wins). `read` runs only when /metrics is scraped; its owner keeps it cheap
   * (queue depth: one query, cached).
   */
  gaugeLabeled(name: LabeledGaugeName, read: () => Promise<GaugeSample[]>): void {
    const known = this.#labeledGauges.has(name);
    this.#labeledGauges.set(name, read);
    if (known) return;
    const readers = this.#labeledGauges;
    new Gauge({
      name: `${metricPrefix}${name}`,
      help: labeledGauges[name].help,
      labelNames: [...labeledGauges[name].labels],
      registers: [this.registry],
      async collect() {
        const samples = (await readers.get(name)?.()) ?? [];
        this.reset();
        for (const sample of samples) this.set(sample.labels, sample.value);
      },
    });
  }

  /**
   * Records `seconds` in histogram `name`. Label values are bounded like labeled counters'
   * (at most `maxLabelValues` combinations per histogram; the rest, and empty or overlong
   * values, as `other`).
   */
  observe(name: HistogramName, seconds: number, labels: Record<string, string> = {}): void {
    const entry = this.#histograms.get(name);
    if (!entry || !Number.isFinite(seconds) || seconds < 0) return;
    const names = histograms[name].labels as readonly string[];
    if (names.length === 0) return entry.histogram.observe(seconds);
    const bounded: Record<string, string> = {};
    for (const label of names) bounded[label] = labels[label] ?? '';
    const key = JSON.stringify(bounded);
    if (!entry.seen.has(key)) {
      const fits = entry.seen.size < maxLabelValues && names.every((label) => fitsLength(bounded[label]!));
      if (fits) entry.seen.add(key);
      else for (const label of names) bounded[label] = otherLabelValue;
    }
    entry.histogram.observe(bounded, seconds);
  }

  /** How many observations histogram `name` holds for exactly `labels`, and their sum (tests). */
  async observed(name: HistogramName, labels: Record<string, string> = {}): Promise<{ count: number; sum: number }> {
    const { histogram } = this.#histograms.get(name)!;
    const { values } = await histogram.get();
    const matches = (sample: { labels: Record<string, unknown> }) => Object.entries(labels).every(([label, value]) => sample.labels[label] === value);
    const pick = (metric: string) => values.find((sample) => sample.metricName === `${metricPrefix}${name}_${metric}` && matches(sample))?.value ?? 0;
    return { count: pick('count'), sum: pick('sum') };
  }

  /** Prometheus exposition format (every metric of this instance). */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  /** The Content-Type of `render()`'s text. */
  get contentType(): string {
    return this.registry.contentType;
  }
}

/** `value`, or `other` when `values` tracks `maxLabelValues` others already or `value` is empty or too long. */
function boundedValue(values: Map<string, number>, value: string): string {
  if (values.has(value)) return value;
  const trackedValues = values.size - (values.has(otherLabelValue) ? 1 : 0);
  return fitsLength(value) && trackedValues < maxLabelValues ? value : otherLabelValue;
}

function fitsLength(value: string): boolean {
  return value.length > 0 && value.length <= maxLabelValueLength;
}
