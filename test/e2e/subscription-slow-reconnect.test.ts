import { createClient } from 'graphql-ws';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { CallEvent } from '../../src/core/events.ts';
import { eventually } from '../support/calls.ts';
import { createCall } from '../support/factories.ts';
import { useApiTenant } from '../support/graphql.ts';

/**
 * End to end, with graphql-ws's own client as a CRM would use it: a subscriber dropped for
 * reading too slowly comes back by itself and gets the events published after the drop.
 */

/** ws, remembering every socket it opens, so the test can stop one reading. */
const opened: WebSocket[] = [];
class TrackedWebSocket extends WebSocket {
  constructor(...args: ConstructorParameters<typeof WebSocket>) {
    super(...args);
    opened.push(this);
  }
}

const tcpOf = (socket: WebSocket) => (socket as unknown as { _socket: { pause(): void; resume(): void } })._socket;

describe('a subscriber dropped for reading too slowly', () => {
  const ctx = useApiTenant();

  it('is closed with a code graphql-ws’s client retries on, and resubscribes (regression: 4429 is fatal to the official client)', { timeout: 60_000 }, async () => {
    const { app, tenant } = ctx;
    const call = await createCall(app.services.orm.em, tenant.businessId, { status: 'in-progress' });
    const closes: number[] = [];
    let connections = 0;
    const client = createClient({
      url: `${app.url.replace('http', 'ws')}/graphql`,
      webSocketImpl: TrackedWebSocket,
      connectionParams: { apiKey: tenant.keys.viewer },
      lazy: true,
      retryAttempts: 5,
      retryWait: () => Promise.resolve(),
      on: { connected: () => void connections++, closed: (event) => void closes.push((event as { code: number }).code) },
    });
    const seen: string[] = [];
    const errors: unknown[] = [];
    const stop = client.subscribe<{ callEvents: { type: string; data: { itemId?: string } } }>(
      { query: 'subscription($id: ID!) { callEvents(callId: $id) { type data } }', variables: { id: call.id } },
      { next: (result) => void seen.push(result.data?.callEvents.data.itemId ?? ''), error: (error) => void errors.push((error as { code?: number }).code ?? error), complete: () => {} },
    );
    const publish = (itemId: string, delta = '') =>
      app.services.bus.publish('call:events', call.id, { type: 'transcript.delta', callId: call.id, speaker: 'agent', itemId, delta, at: new Date().toISOString() } satisfies CallEvent);
    // Published until the subscription is in place on the server.
    await eventually(() => (publish('hello'), seen.includes('hello')), Boolean, 'the first event');

    // The client stops reading: events of 64 KB pile up on the server until it gives up on it.
    tcpOf(opened[0]!).pause();
    const bulk = 'א'.repeat(32 * 1024);
    for (let n = 0; app.services.metrics.get('subscription_slow_disconnected_total') === 0; n++) {
      publish(`bulk-${n}`, bulk);
      await new Promise((resolve) => setImmediate(resolve));
    }
    // It reads again: what was queued, then the close, then it reconnects by itself.
    tcpOf(opened[0]!).resume();
    await eventually(() => connections, (n) => n === 2 || errors.length > 0, 'the reconnect', 20_000);
    expect(errors).toEqual([]);
    expect(closes).toEqual([1013]);
    await eventually(() => (publish('after the drop'), seen.includes('after the drop')), Boolean, 'an event after the drop');
    expect(opened).toHaveLength(2);

    stop();
    await client.dispose();
  });
});
