import { createRequire } from 'node:module';

/** One sample of a family as parse-prometheus-text-format returns it (prom2json's shape). */
export interface ParsedSample {
  value?: string;
  labels?: Record<string, string>;
  /** Histograms: cumulative counts by upper bound (`le`), and the count and sum. */
  buckets?: Record<string, string>;
  count?: string;
  sum?: string;
}

/** One metric family: its name, HELP, TYPE and samples. */
export interface ParsedFamily {
  name: string;
  help: string;
  type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
  metrics: ParsedSample[];
}

// A CommonJS package without type declarations.
const parse = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => ParsedFamily[];

/** Parses Prometheus text exposition format with parse-prometheus-text-format (a port of the Python client's parser). */
export function parsePrometheusText(text: string): ParsedFamily[] {
  return parse(text);
}

/**
 * Parses Prometheus text, keeping each series of a labeled histogram apart. The parser
 * folds every series of a histogram family into one sample (last bucket values win; the
 * labeled _count and _sum are dropped), so each such series is parsed again on its own,
 * as an unlabeled histogram, and given back its labels.
 */
export function parseWithHistogramSeries(text: string): ParsedFamily[] {
  const families = parsePrometheusText(text);
  for (const parsed of families) {
    if (parsed.type !== 'HISTOGRAM') continue;
    const series = new Map<string, string[]>();
    const line = new RegExp(`^${parsed.name}_(bucket|sum|count)\\{(.*)\\} (\\S+)$`);
    for (const sampleLine of text.split('\n')) {
      const match = line.exec(sampleLine);
      if (!match) continue;
      const labels = match[2]!.split(/,(?=[a-zA-Z_]+=")/).filter((pair) => !pair.startsWith('le='));
      const le = match[2]!.split(/,(?=[a-zA-Z_]+=")/).find((pair) => pair.startsWith('le='));
      const key = labels.join(',');
      if (key === '') continue;
      const lines = series.get(key) ?? [];
      lines.push(`${parsed.name}_${match[1]}${le ? `{${le}}` : ''} ${match[3]}`);
      series.set(key, lines);
    }
    if (series.size === 0) continue;
    parsed.metrics = [...series].map(([key, lines]) => {
      const [alone] = parsePrometheusText(`# TYPE ${parsed.name} histogram\n${lines.join('\n')}\n`);
      const labels = Object.fromEntries(key.split(/,(?=[a-zA-Z_]+=")/).map((pair) => [pair.slice(0, pair.indexOf('=')), JSON.parse(pair.slice(pair.indexOf('=') + 1)) as string]));
      return { ...alone!.metrics[0], labels };
    });
  }
  return families;
}

/** GET `<baseUrl>/metrics`, parsed (parseWithHistogramSeries); fails on a status other than 200. */
export async function scrapeMetrics(baseUrl: string, headers: Record<string, string> = {}): Promise<ParsedFamily[]> {
  const response = await fetch(`${baseUrl}/metrics`, { headers });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`/metrics answered ${response.status}: ${text}`);
  return parseWithHistogramSeries(text);
}

/** The family named `name`, or a failure naming it. */
export function family(families: ParsedFamily[], name: string): ParsedFamily {
  const found = families.find((candidate) => candidate.name === name);
  if (!found) throw new Error(`/metrics has no ${name}`);
  return found;
}

/** The sample of `family` whose labels include every one of `labels`, if any. */
export function sampleOf(parsed: ParsedFamily, labels: Record<string, string> = {}): ParsedSample | undefined {
  return parsed.metrics.find((sample) => Object.entries(labels).every(([name, value]) => sample.labels?.[name] === value));
}
