import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { eventually } from '../../support/calls.ts';
import { useApiTenant } from '../../support/graphql.ts';

/**
 * Threat: one bad operation on a graphql-ws socket — a payload that is not an operation,
 * a document that does not parse, variables that do not fit, a subscribe that throws —
 * closes the whole socket (4400/4500), and every other subscription on it dies with it: a
 * console's live view goes dark because of one malformed message (security review F4/F7
 * follow-up, issue 18 item 3).
 * Defence: each is answered with an `error` message for its own id; the socket and its
 * other subscriptions carry on.
 */

interface Message {
  id?: string;
  type: string;
  payload?: any;
}

/** A raw graphql-transport-ws socket, acknowledged, that records what it receives and how it closed. */
async function openSocket(appUrl: string, apiKey: string) {
  const socket = new WebSocket(`${appUrl.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
  const received: Message[] = [];
  let closed: { code: number; reason: string } | null = null;
  socket.on('message', (data) => void received.push(JSON.parse(String(data)) as Message));
  socket.on('close', (code, reason) => void (closed = { code, reason: String(reason) }));
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  socket.send(JSON.stringify({ type: 'connection_init', payload: { apiKey } }));
  await eventually(() => received, (messages) => messages.some((m) => m.type === 'connection_ack'), 'the ack');
  return {
    socket,
    received,
    closed: () => closed,
    send: (message: Record<string, unknown>) => socket.send(JSON.stringify(message)),
    answersFor: (id: string) => received.filter((m) => m.id === id),
  };
}

describe('a graphql-ws operation that fails', () => {
  const api = useApiTenant();
  const sockets: WebSocket[] = [];
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });

  it('is answered for its own id; the socket stays open and another subscription on it keeps receiving', async () => {
    const ws = await openSocket(api.app.url, api.tenant.keys.viewer);
    sockets.push(ws.socket);
    ws.send({ id: 'live', type: 'subscribe', payload: { query: 'subscription { liveCalls { type callSid } }' } });
    const { bus } = api.app.services;
    const publishCall = (callSid: string) =>
      bus.publish('business:calls', api.tenant.businessId, { type: 'call.started', callId: randomUUID(), callSid, direction: 'inbound', at: new Date().toISOString() });
    const seen = (callSid: string) => ws.answersFor('live').some((m) => m.type === 'next' && m.payload?.data?.liveCalls?.callSid === callSid);
    // Published until the subscription has reached the bus.
    await eventually(() => (publishCall('CA-before'), seen('CA-before')), Boolean, 'the live subscription receiving');

    const bad: [id: string, payload: unknown][] = [
      ['not-an-operation', { query: 42 }],
      ['variables-not-an-object', { query: 'subscription { liveCalls { type } }', variables: 'x' }],
      ['syntax', { query: 'subscription { liveCalls { type ' }],
      ['unknown-field', { query: 'subscription { nope }' }],
      ['missing-variable', { query: 'subscription($id: ID!) { callEvents(callId: $id) { type } }', variables: {} }],
      ['unknown-operation', { query: 'subscription A { liveCalls { type } }', operationName: 'B' }],
    ];
    for (const [id, payload] of bad) ws.send({ id, type: 'subscribe', payload });
    for (const [id] of bad) {
      const answers = await eventually(() => ws.answersFor(id), (messages) => messages.length > 0 || ws.closed() !== null, `the answer for ${id}`);
      expect(ws.closed(), `socket closed after ${id}`).toBeNull();
      const errors = answers[0]?.type === 'error' ? answers[0].payload : answers[0]?.payload?.errors;
      expect(errors, id).toEqual([expect.objectContaining({ message: expect.any(String) })]);
      expect(JSON.stringify(errors), id).not.toContain('INTERNAL_SERVER_ERROR');
    }

    await eventually(() => (publishCall('CA-after'), seen('CA-after')), Boolean, 'the live subscription still receiving');
    expect(ws.closed()).toBeNull();
  });
});
