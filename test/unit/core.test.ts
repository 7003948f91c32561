import { describe, expect, it } from 'vitest';
import { createEventBus, type CallLifecycleEvent } from '../../src/core/events.ts';
import { Lifecycle } from '../../src/core/lifecycle.ts';
import { capturingLogger } from '../support/logs.ts';

describe('logger', () => {
  it('redacts personal data and secrets wherever they sit in the first two levels', () => {
    const { logger, lines } = capturingLogger();
    logger.child({ callSid: 'CA123' }).info(
      {
        pii: { name: 'משה כהן' },
        phone: '+972501234567',
        call: { from: '+972501234567', transcript: 'שלום', status: 'completed' },
        apiKey: 'cw_secret',
      },
      'call ended',
    );
    const [line] = lines;
    expect(line).toMatchObject({
      msg: 'call ended',
      callSid: 'CA123',
      pii: '[redacted]',
      phone: '[redacted]',
      call: { from: '[redacted]', transcript: '[redacted]', status: 'completed' },
      apiKey: '[redacted]',
    });
    expect(JSON.stringify(lines)).not.toMatch(/972501234567|משה|שלום|cw_secret/);
  });
});

describe('event bus', () => {
  it('delivers a business\'s call events only to that business\'s subscribers', async () => {
    const bus = createEventBus();
    const seenByA: CallLifecycleEvent[] = [];
    const seenByB: CallLifecycleEvent[] = [];
    const subscriptionA = bus.subscribe('business:calls', 'business-a');
    const subscriptionB = bus.subscribe('business:calls', 'business-b');
    const readA = (async () => {
      for await (const event of subscriptionA) {
        seenByA.push(event);
        if (event.type === 'call.ended') break;
      }
    })();

    const started: CallLifecycleEvent = { type: 'call.started', callId: 'c1', callSid: 'CA1', direction: 'inbound', at: new Date().toISOString() };
    const ended: CallLifecycleEvent = { type: 'call.ended', callId: 'c1', callSid: 'CA1', durationSec: 12, reason: 'caller hung up', status: 'completed', at: new Date().toISOString() };
    bus.publish('business:calls', 'business-a', started);
    bus.publish('business:calls', 'business-a', ended);
    await readA;
    await subscriptionB.return();
    for await (const event of subscriptionB) seenByB.push(event);

    expect(seenByA).toEqual([started, ended]);
    expect(seenByB).toEqual([]);
  });

  it('counts the subscribers listening to a topic, from their first read until they leave', async () => {
    const bus = createEventBus();
    const first = bus.subscribe('call:events', 'call-1')[Symbol.asyncIterator]();
    const second = bus.subscribe('call:events', 'call-1')[Symbol.asyncIterator]();
    // A subscription listens once something reads it.
    expect(bus.listenerCount('call:events', 'call-1')).toBe(0);
    const reads = [first.next(), second.next()];
    expect(bus.listenerCount('call:events', 'call-1')).toBe(2);
    expect(bus.listenerCount('call:events', 'call-2')).toBe(0);
    expect(bus.listenerCount('business:routing')).toBe(0);

    await first.return();
    expect(bus.listenerCount('call:events', 'call-1')).toBe(1);
    await second.return();
    await Promise.all(reads);
    expect(bus.listenerCount('call:events', 'call-1')).toBe(0);
  });
});

describe('lifecycle', () => {
  it('closes resources newest first and keeps going past one that fails', async () => {
    const { logger, lines } = capturingLogger();
    const lifecycle = new Lifecycle(logger);
    const closed: string[] = [];
    lifecycle.add('database', () => void closed.push('database'));
    lifecycle.add('queue', () => {
      throw new Error('stuck');
    });
    lifecycle.add('http', async () => void closed.push('http'));

    await Promise.all([lifecycle.close(), lifecycle.close()]);

    expect(closed).toEqual(['http', 'database']);
    expect(lines).toContainEqual(expect.objectContaining({ msg: 'failed to close', resource: 'queue', err: 'stuck' }));
    expect(() => lifecycle.add('late', () => {})).toThrow(/shutdown has begun/);
  });
});
