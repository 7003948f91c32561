/** Percentiles of a sample, in the sample's unit. */
export interface Summary {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/**
 * Nearest-rank percentiles (p99 of 200 values is the 198th smallest): no interpolation, so
 * every figure is a value that was actually measured.
 */
export function summarize(values: ArrayLike<number>): Summary {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  if (n === 0) return { n: 0, p50: Number.NaN, p95: Number.NaN, p99: Number.NaN, max: Number.NaN, mean: Number.NaN };
  const at = (p: number) => sorted[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))] ?? Number.NaN;
  let sum = 0;
  for (const value of sorted) sum += value;
  return { n, p50: at(50), p95: at(95), p99: at(99), max: sorted[n - 1] ?? Number.NaN, mean: sum / n };
}

/** A number for a table: 3 significant digits below 100, whole numbers above. */
export function fmt(value: number, unit = ''): string {
  if (!Number.isFinite(value)) return '—';
  const abs = Math.abs(value);
  const text = abs >= 100 ? value.toFixed(0) : abs >= 10 ? value.toFixed(1) : abs >= 1 ? value.toFixed(2) : value.toFixed(3);
  return `${text}${unit}`;
}

/** `a / b` as "1.23×". */
export function ratio(a: number, b: number): string {
  return b > 0 && Number.isFinite(a) ? `${(a / b).toFixed(2)}×` : '—';
}

/** A GitHub-flavoured Markdown table. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((cell, i) => Math.max(cell.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(header), line(widths.map((width) => '-'.repeat(Math.max(3, width)))), ...rows.map(line)].join('\n');
}
