import { describe, expect, it } from 'vitest';
import { Metrics } from '../../src/core/metrics.ts';
import type { GraphQLContext } from '../../src/schema/context.ts';
import { backPressure, relay } from '../../src/schema/subscriptions.ts';

/** Per-subscriber back-pressure on a simulated socket: audio goes first, then the subscriber. */

async function* items(list: { kind: 'audio' | 'event'; n: number }[]) {
  for (const item of list) yield item;
}

function context(queued: () => number) {
  const closed: { code: number; reason: string }[] = [];
  const metrics = new Metrics();
  const ctx = { services: { metrics }, transport: { bufferedBytes: queued, close: (code: number, reason: string) => closed.push({ code, reason }) } } as unknown as GraphQLContext;
  return { ctx, closed, metrics };
}

async function drain<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of source) out.push(item);
  return out;
}

describe('subscription back-pressure', () => {
  const list = Array.from({ length: 6 }, (_, n) => ({ kind: (n % 2 === 0 ? 'audio' : 'event') as 'audio' | 'event', n }));

  it('passes everything to a subscriber that keeps up', async () => {
    const { ctx, closed } = context(() => 0);
    expect(await drain(relay(ctx, items(list), (item) => item.kind === 'audio'))).toHaveLength(6);
    expect(closed).toEqual([]);
  });

  it('drops a slow subscriber’s audio but not its events', async () => {
    const { ctx, closed, metrics } = context(() => backPressure.dropAudioBytes + 1);
    const got = await drain(relay(ctx, items(list), (item) => item.kind === 'audio'));
    expect(got.map((item) => item.n)).toEqual([1, 3, 5]);
    expect(metrics.get('subscription_audio_dropped_total')).toBe(3);
    expect(closed).toEqual([]);
  });

  it('disconnects a subscriber that stopped reading, saying why', async () => {
    let queued = 0;
    const { ctx, closed, metrics } = context(() => queued);
    const source = (async function* () {
      yield { kind: 'event' as const, n: 0 };
      queued = backPressure.disconnectBytes + 1;
      yield { kind: 'event' as const, n: 1 };
      yield { kind: 'event' as const, n: 2 };
    })();
    expect((await drain(relay(ctx, source, () => false))).map((item) => item.n)).toEqual([0]);
    expect(closed).toEqual([{ code: 1013, reason: 'subscriber too slow: more than 2 MB of events waiting' }]);
    expect(metrics.get('subscription_slow_disconnected_total')).toBe(1);
  });
});
