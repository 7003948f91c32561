import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallEvent } from '../../src/core/events.ts';
import { LogThrottle } from '../../src/core/log-throttle.ts';
import { Metrics } from '../../src/core/metrics.ts';
import { openRedisBus, type RedisBus } from '../../src/core/redis-bus.ts';
import { eventually } from '../support/calls.ts';
import { capturingLogger } from '../support/logs.ts';
import { startRedisServer, type RedisServer } from '../support/redis-server.ts';

/**
 * The Redis event bus on a real `redis-server` that the test kills and restarts: nothing
 * published during the outage is queued or thrown, each drop is counted, the warnings are
 * rate-limited, and every subscription — old or made during the outage — works again after.
 */

/** Everything a bus subscription yields, until `stop()`. */
function collect(bus: RedisBus['bus'], callId: string) {
  const seen: CallEvent[] = [];
  const subscription = bus.subscribe('call:events', callId);
  const reading = (async () => {
    for await (const event of subscription) seen.push(event);
  })();
  return { seen, stop: async () => void (await subscription.return(), await reading) };
}

const event = (callId: string, n: number): CallEvent => ({ type: 'speech.started', callId, at: `2026-12-03T10:00:${String(n).padStart(2, '0')}.000Z` });

describe('the Redis event bus through an outage', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(() => redis?.stop());

  it('drops and counts what is published while Redis is down, warns once per 10 s, and resumes every subscription after', async () => {
    const publisher = { metrics: new Metrics(), ...capturingLogger() };
    const subscriber = { metrics: new Metrics(), ...capturingLogger() };
    const pub = await openRedisBus(redis.url, publisher.logger, publisher.metrics);
    const sub = await openRedisBus(redis.url, subscriber.logger, subscriber.metrics);
    try {
      const before = collect(sub.bus, 'c1');
      await eventually(() => redis.subscribers('call:events:c1'), (n) => n === 1, 'the subscription on Redis');
      pub.bus.publish('call:events', 'c1', event('c1', 1));
      await eventually(() => before.seen.length, (n) => n === 1, 'the event before the outage');

      const outageStarted = Date.now();
      await redis.kill();
      await eventually(() => pub.bus.available() || sub.bus.available(), (up) => !up, 'both buses to notice');
      // Thrown or queued, any of these used to end the process (MaxRetriesPerRequestError).
      for (let n = 0; n < 500; n += 1) pub.bus.publish('call:events', 'c1', event('c1', 2));
      expect(publisher.metrics.get('bus_publish_failures_total')).toBe(500);
      const warnings = publisher.lines.filter((line) => line.msg === 'event bus command failed');
      expect(warnings).toEqual([expect.objectContaining({ level: 40, failure: 'publish', suppressed: 0 })]);
      // Subscribing and unsubscribing during the outage fail quietly too.
      const during = collect(sub.bus, 'c2');
      const gone = collect(sub.bus, 'c3');
      await gone.stop();
      // Counted on this instance at once, Redis or not.
      expect([sub.bus.listenerCount('call:events', 'c2'), sub.bus.listenerCount('call:events', 'c3')]).toEqual([1, 0]);

      await redis.restart();
      const outageMs = Date.now() - outageStarted;
      await eventually(async () => [await redis.subscribers('call:events:c1'), await redis.subscribers('call:events:c2'), await redis.subscribers('call:events:c3')], (counts) => counts.join() === '1,1,0', 'the subscriptions made again, the abandoned one not');
      await eventually(() => pub.bus.available(), Boolean, 'the publisher reconnected');
      pub.bus.publish('call:events', 'c1', event('c1', 3));
      pub.bus.publish('call:events', 'c2', event('c2', 4));
      await eventually(() => [before.seen.length, during.seen.length], ([b, d]) => b === 2 && d === 1, 'the events after the restart');
      // Nothing from the outage was replayed.
      expect(before.seen).toEqual([event('c1', 1), event('c1', 3)]);
      expect(during.seen).toEqual([event('c2', 4)]);
      expect(publisher.lines.filter((line) => line.msg === 'redis connection restored')).toEqual(
        expect.arrayContaining([expect.objectContaining({ client: 'publish', eventsDropped: 500 }), expect.objectContaining({ client: 'subscribe' })]),
      );
      // Reconnect attempts fail every 0.1–2 s per connection; each logs at most once per 10 s.
      for (const client of ['publish', 'subscribe']) {
        const errors = publisher.lines.filter((line) => line.msg === 'redis connection error' && line.client === client);
        expect(errors.length).toBeLessThanOrEqual(1 + Math.floor(outageMs / 10_000));
      }
      await before.stop();
      await during.stop();

      // Shutting down while Redis is down returns, and leaves no reconnect timer behind.
      await redis.kill();
      await eventually(() => pub.bus.available() || sub.bus.available(), (up) => !up, 'both buses to notice');
    } finally {
      await pub.close();
      await sub.close();
    }
    await redis.restart();
  });

  it('ignores a message on its channels that is not JSON, and delivers the next one', async () => {
    const { logger, lines } = capturingLogger();
    const bus = await openRedisBus(redis.url, logger, new Metrics());
    const raw = new Redis(redis.url, { lazyConnect: true });
    try {
      await raw.connect();
      const events = collect(bus.bus, 'c9');
      await eventually(() => redis.subscribers('call:events:c9'), (n) => n === 1, 'the subscription on Redis');
      await raw.publish('call:events:c9', '{not json');
      await raw.publish('call:events:c9', JSON.stringify(event('c9', 5)));
      await eventually(() => events.seen, (seen) => seen.length === 1, 'the valid event');
      expect(events.seen).toEqual([event('c9', 5)]);
      expect(lines).toEqual(expect.arrayContaining([expect.objectContaining({ msg: 'event bus command failed', failure: 'message' })]));
      await events.stop();
    } finally {
      await raw.quit();
      await bus.close();
    }
  });
});

describe('LogThrottle', () => {
  it('lets one occurrence through per interval and reports how many it held back', () => {
    let now = 0;
    const throttle = new LogThrottle(10_000, () => now);
    const decisions: ({ suppressed: number } | undefined)[] = [];
    for (const at of [0, 1, 500, 9_999, 10_000, 10_001, 25_000]) {
      now = at;
      decisions.push(throttle.take());
    }
    expect(decisions).toEqual([{ suppressed: 0 }, undefined, undefined, undefined, { suppressed: 3 }, undefined, { suppressed: 1 }]);
  });
});
