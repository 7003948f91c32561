import type { MemorySample } from './soak-server.child.ts';
import { machine, revision } from './report.ts';
import { table } from './stats.ts';

/** The child's memory after `calls` soak calls: as it was, then after a forced GC. */
export interface Checkpoint {
  calls: number;
  rssBytes: number;
  heapUsedBytes: number;
  gcRssBytes: number;
  gcHeapUsedBytes: number;
  gcCodeBytes: number;
}

export interface SoakFigures {
  startedAt: Date;
  database: string;
  command: string;
  options: { calls: number; warmup: number; concurrency: number; every: number };
  soakSeconds: number;
  /** Before any call; after the warm-up, idle, after GC; after the soak as it was; then idle after GC. */
  start: MemorySample;
  warm: MemorySample;
  end: MemorySample;
  endGc: MemorySample;
  checkpoints: Checkpoint[];
  placed: number;
  rows: { total: number; ended: number; live: number };
}

/** The trend is called flat below this many bytes per call of post-GC heap less compiled code and bytecode. */
export const flatBytesPerCall = 1_024;
/** The window the trend is fitted over: the last this many calls of the soak. */
const trendWindow = 500;

/** Least-squares slope of y over x. */
export function slope(points: { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return Number.NaN;
  const mx = points.reduce((sum, p) => sum + p.x, 0) / n;
  const my = points.reduce((sum, p) => sum + p.y, 0) / n;
  const sxy = points.reduce((sum, p) => sum + (p.x - mx) * (p.y - my), 0);
  const sxx = points.reduce((sum, p) => sum + (p.x - mx) ** 2, 0);
  return sxx === 0 ? Number.NaN : sxy / sxx;
}

/** Handle kinds whose count changed between two samples, as "Kind a → b". */
export function resourceChanges(before: Record<string, number>, after: Record<string, number>): string[] {
  const kinds = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  return kinds.filter((kind) => (before[kind] ?? 0) !== (after[kind] ?? 0)).map((kind) => `${kind} ${before[kind] ?? 0} → ${after[kind] ?? 0}`);
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)}`;
const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
/** How many handles and requests keep the event loop alive. */
export function handleCount(sample: MemorySample): number {
  return Object.values(sample.resources).reduce((sum, n) => sum + n, 0);
}

export function renderSoak(f: SoakFigures): string {
  const { calls, warmup, concurrency, every } = f.options;
  const last = f.checkpoints.filter((c) => c.calls > calls - trendWindow);
  const objects = (heapUsed: number, code: number) => heapUsed - code;
  const objectSlope = slope(last.map((c) => ({ x: c.calls, y: objects(c.gcHeapUsedBytes, c.gcCodeBytes) })));
  const heapSlope = slope(last.map((c) => ({ x: c.calls, y: c.gcHeapUsedBytes })));
  const rssSlope = slope(last.map((c) => ({ x: c.calls, y: c.gcRssBytes })));
  const flat = objectSlope <= flatBytesPerCall;
  const perCall = (after: number, before: number) => kib((after - before) / calls);
  const hundreds = f.checkpoints.filter((c) => c.calls % 100 === 0 || c.calls === calls);
  const changed = resourceChanges(f.warm.resources, f.endGc.resources);
  const kinds = (sample: MemorySample) =>
    Object.entries(sample.resources)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([kind, n]) => `${kind} ${n}`)
      .join(', ');
  return [
    `Run ${f.startedAt.toISOString()} on ${machine()}; Callwatch ${revision()}; ${f.database}.`,
    `Command: \`${f.command}\` — ${warmup} warm-up calls, then ${calls} calls, ${concurrency} at a time (${f.soakSeconds.toFixed(0)} s, ${(calls / f.soakSeconds).toFixed(1)} calls/s); ` +
      `a sample every ${every} calls, taken while the others go on. Callwatch is a child process (api role, production settings, \`--expose-gc\`); each call is the signed voice webhook, ` +
      'the media stream, the greeting, the caller-booking request at instant pace, 0.5 s of silence, `stop`.',
    '',
    table(
      ['when', 'RSS (MiB)', 'heap used (MiB)', 'RSS after GC', 'heap after GC', 'of which code'],
      [
        ['before the first call (no GC)', mib(f.start.rssBytes), mib(f.start.heapUsedBytes), '', '', mib(f.start.codeBytes)],
        ['after the warm-up, idle', '', '', mib(f.warm.rssBytes), mib(f.warm.heapUsedBytes), mib(f.warm.codeBytes)],
        ...hundreds.map((c) => [`${c.calls} calls`, mib(c.rssBytes), mib(c.heapUsedBytes), mib(c.gcRssBytes), mib(c.gcHeapUsedBytes), mib(c.gcCodeBytes)]),
        ['after the soak, idle', mib(f.end.rssBytes), mib(f.end.heapUsedBytes), mib(f.endGc.rssBytes), mib(f.endGc.heapUsedBytes), mib(f.endGc.codeBytes)],
      ],
    ),
    '',
    table(
      ['per call, past the warm-up', 'value'],
      [
        ['RSS growth, idle after GC: (after soak − after warm-up) / calls', perCall(f.endGc.rssBytes, f.warm.rssBytes)],
        ['heap growth, idle after GC: (after soak − after warm-up) / calls', perCall(f.endGc.heapUsedBytes, f.warm.heapUsedBytes)],
        ['heap growth less compiled code, idle after GC', perCall(objects(f.endGc.heapUsedBytes, f.endGc.codeBytes), objects(f.warm.heapUsedBytes, f.warm.codeBytes))],
        [`trend: slope of the post-GC heap less code over the last ${Math.min(trendWindow, calls)} calls (${last.length} samples)`, `${kib(objectSlope)} per call`],
        ['trend: slope of the post-GC heap, code included, same samples', `${kib(heapSlope)} per call`],
        [`trend: slope of the post-GC RSS over the same samples`, `${kib(rssSlope)} per call`],
      ],
    ),
    '',
    `Trend: ${flat ? `**no growth** (slope of the heap less code ≤ ${flatBytesPerCall} B per call)` : `**growing** (slope of the heap less code > ${flatBytesPerCall} B per call): look for a leak`}.`,
    `Calls: ${f.placed} placed, ${f.rows.total} rows, ${f.rows.ended} written (end reason and end time), ${f.rows.live} left live` +
      (f.rows.ended === f.placed && f.rows.live === 0 ? ' — every call written, none stuck.' : ' — **calls missing or stuck**.'),
    `Handles in Callwatch (process.getActiveResourcesInfo), once idle connections have closed: ${handleCount(f.warm)} after the warm-up (${kinds(f.warm)}), ${handleCount(f.endGc)} after the soak` +
      (changed.length === 0 ? ' — the same kinds and counts: no socket or timer left behind.' : ` — changed: ${changed.join('; ')}.`),
  ].join('\n');
}
