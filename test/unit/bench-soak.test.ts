import { describe, expect, it } from 'vitest';
import { flatBytesPerCall, renderSoak, resourceChanges, slope, type SoakFigures } from '../../bench/support/soak-report.ts';

/**
 * bench:soak's verdict (the benchmark itself runs outside `npm test`): the trend is the
 * least-squares slope of the post-GC heap less compiled code over the last 500 calls, and
 * the handles left open are those whose count changed from the warm-up to the end.
 */

const sample = (heapMiB: number, codeMiB: number, resources: Record<string, number> = { TCPSocketWrap: 2, Timeout: 10 }) => ({
  rssBytes: 300 * 2 ** 20,
  heapUsedBytes: heapMiB * 2 ** 20,
  codeBytes: codeMiB * 2 ** 20,
  resources,
});

function figures(heapPerCall: number, codePerCall: number, end = sample(66, 13)): SoakFigures {
  const checkpoints = Array.from({ length: 30 }, (_, i) => {
    const calls = (i + 1) * 20;
    return { calls, rssBytes: 0, heapUsedBytes: 0, gcRssBytes: 0, gcHeapUsedBytes: 60 * 2 ** 20 + calls * (heapPerCall + codePerCall), gcCodeBytes: 10 * 2 ** 20 + calls * codePerCall };
  });
  return {
    startedAt: new Date(),
    database: 'test',
    command: 'test',
    options: { calls: 600, warmup: 200, concurrency: 20, every: 20 },
    soakSeconds: 30,
    start: sample(60, 8),
    warm: sample(65, 12),
    end,
    endGc: end,
    checkpoints,
    placed: 800,
    rows: { total: 800, ended: 800, live: 0 },
  };
}

describe('bench:soak report', () => {
  it('fits the slope of a line exactly', () => {
    expect(slope([0, 1, 2, 3].map((x) => ({ x, y: 5 + 2 * x })))).toBeCloseTo(2);
    expect(slope([{ x: 1, y: 1 }])).toBeNaN();
  });

  it('calls growth in compiled code flat, and growth in objects a trend to look into', () => {
    expect(renderSoak(figures(0, 3_000))).toContain('**no growth**');
    const leaking = renderSoak(figures(flatBytesPerCall * 2, 0));
    expect(leaking).toContain('**growing**');
    expect(leaking).toContain('2.0 KiB per call');
  });

  it('names the handle kinds whose count changed, and says when calls are missing', () => {
    expect(resourceChanges({ TCPSocketWrap: 2, Timeout: 10 }, { TCPSocketWrap: 3, Timeout: 10, Immediate: 1 })).toEqual(['Immediate 0 → 1', 'TCPSocketWrap 2 → 3']);
    const report = renderSoak({ ...figures(0, 0, sample(66, 13, { TCPSocketWrap: 3, Timeout: 10 })), rows: { total: 800, ended: 799, live: 1 } });
    expect(report).toContain('changed: TCPSocketWrap 2 → 3');
    expect(report).toContain('**calls missing or stuck**');
  });
});
