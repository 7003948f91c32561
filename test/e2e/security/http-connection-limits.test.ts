import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/core/config.ts';
import { startTestApp, type TestApp } from '../../support/app.ts';
import { endedCall, eventually, placeCall, useCallHarness } from '../../support/calls.ts';
import { createTenant, graphql, graphqlWsClient, type Tenant } from '../../support/graphql.ts';

/**
 * Threat: clients that hold connections open — sending headers or a body a byte at a time,
 * or simply opening very many — until the server runs out of sockets or memory (security
 * review F15: Node's defaults let a slow header run for about a minute and a slow body for
 * five, with no cap on connections).
 * Defence: HTTP_HEADERS_TIMEOUT_MS and HTTP_REQUEST_TIMEOUT_MS end such a request with 408
 * and close it; websockets (graphql-ws, /twilio/media) have left HTTP once upgraded and are
 * not timed out; over HTTP_MAX_CONNECTIONS a new connection is closed at once.
 */

/** A raw TCP connection to `url`, with everything it receives. */
async function rawConnection(url: string): Promise<{ socket: Socket; received: () => string; closed: Promise<void> }> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  let received = '';
  socket.on('data', (chunk) => (received += chunk.toString('latin1')));
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, received: () => received, closed };
}

describe('HTTP timeouts', () => {
  let app: TestApp;
  let tenant: Tenant;
  beforeAll(async () => {
    app = await startTestApp({ ROLE: 'api', HTTP_HEADERS_TIMEOUT_MS: '300', HTTP_REQUEST_TIMEOUT_MS: '600' });
    tenant = await createTenant(app.services.orm.em);
  });
  afterAll(() => app?.stop());

  it('answers a client that never finishes its headers with 408 and closes the connection', async () => {
    const slow = await rawConnection(app.url);
    slow.socket.write('GET /health HTTP/1.1\r\nHost: callwatch\r\nX-Slow: ');
    await slow.closed;
    expect(slow.received()).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('answers a client that never finishes its body with 408 and closes the connection', async () => {
    const slow = await rawConnection(app.url);
    slow.socket.write('POST /graphql HTTP/1.1\r\nHost: callwatch\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"query":');
    await slow.closed;
    expect(slow.received()).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('leaves a graphql-ws socket open past the request timeout', async () => {
    const client = graphqlWsClient(app.url, tenant.keys.viewer);
    const opened = new Promise<void>((resolve) => client.on('connected', () => resolve()));
    let closedWith: number | undefined;
    client.on('closed', (event) => (closedWith = (event as { code: number }).code));
    const subscription = client.subscribe({ query: 'subscription { liveCalls { type } }' }, { next: () => {}, error: () => {}, complete: () => {} });
    try {
      await opened;
      // A slow request opened after the socket is timed out: the request timeout has passed for both.
      const slow = await rawConnection(app.url);
      slow.socket.write('POST /graphql HTTP/1.1\r\nHost: callwatch\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n');
      await slow.closed;
      expect(slow.received()).toMatch(/^HTTP\/1\.1 408 /);
      const answer = await new Promise<unknown>((resolve, reject) => {
        client.subscribe({ query: '{ viewer { role } }' }, { next: resolve, error: reject, complete: () => {} });
      });
      expect(answer).toEqual({ data: { viewer: { role: 'VIEWER' } } });
      expect(closedWith).toBeUndefined();
    } finally {
      subscription();
      await client.dispose();
    }
  });

  it('leaves an SSE subscription streaming past the request timeout', async () => {
    const sse = await rawConnection(app.url);
    let closed = false;
    void sse.closed.then(() => (closed = true));
    const query = encodeURIComponent('subscription { liveCalls { type } }');
    sse.socket.write(`GET /graphql?query=${query} HTTP/1.1\r\nHost: callwatch\r\nAccept: text/event-stream\r\nAuthorization: Bearer ${tenant.keys.viewer}\r\n\r\n`);
    await new Promise((resolve) => sse.socket.once('data', resolve));
    expect(sse.received()).toMatch(/^HTTP\/1\.1 200 /);
    // A slow body opened after the stream is timed out: the request timeout has passed for both.
    const slow = await rawConnection(app.url);
    slow.socket.write('POST /graphql HTTP/1.1\r\nHost: callwatch\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n');
    await slow.closed;
    expect(slow.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(closed).toBe(false);
    sse.socket.destroy();
  });

  it('answers ordinary requests as before', async () => {
    const { data } = await graphql(app.url, tenant.keys.viewer, '{ viewer { role } }');
    expect(data).toEqual({ viewer: { role: 'VIEWER' } });
  });
});

describe('a call’s media stream', () => {
  const h = useCallHarness({}, { env: { HTTP_HEADERS_TIMEOUT_MS: '300', HTTP_REQUEST_TIMEOUT_MS: '600' } });

  it('stays open past the request timeout, until the caller hangs up', async () => {
    const placed = await placeCall(h, `CA${'d'.repeat(32)}`);
    placed.session.script({ replies: [{ text: 'שלום' }] });
    placed.caller.start();
    let closed = false;
    void placed.caller.closed.then(() => (closed = true));
    await eventually(() => placed.caller.heardMs(), (ms) => ms > 0, 'the greeting to play');
    // A slow body opened after the stream is timed out: the request timeout has passed for both.
    const slow = await rawConnection(h.app.url);
    slow.socket.write('POST /twilio/status HTTP/1.1\r\nHost: callwatch\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 10\r\n\r\n');
    await slow.closed;
    expect(slow.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(closed).toBe(false);
    placed.caller.stop();
    expect((await endedCall(h, placed.callSid)).endReason).toBe('caller hung up');
  });
});

describe('HTTP_MAX_CONNECTIONS', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ ROLE: 'api', HTTP_MAX_CONNECTIONS: '3', HTTP_KEEP_ALIVE_TIMEOUT_MS: '60000' });
  });
  afterAll(() => app?.stop());

  it('closes a connection over the cap at once and counts it; one freed is taken again', async () => {
    const held = [];
    for (let i = 0; i < 3; i++) {
      const connection = await rawConnection(app.url);
      connection.socket.write('GET /health HTTP/1.1\r\nHost: callwatch\r\n\r\n');
      await new Promise((resolve) => connection.socket.once('data', resolve));
      held.push(connection);
    }
    const over = await rawConnection(app.url);
    over.socket.write('GET /health HTTP/1.1\r\nHost: callwatch\r\n\r\n');
    await over.closed;
    expect(over.received()).toBe('');
    expect(app.services.metrics.get('http_connections_refused_total')).toBe(1);

    held[0]!.socket.end();
    await held[0]!.closed;
    const response = await fetch(`${app.url}/health`);
    expect(response.status).toBe(200);
    for (const connection of held) connection.socket.destroy();
  });
});

describe('the timeouts’ configuration', () => {
  it('refuses a header timeout longer than the request timeout, naming both', () => {
    expect(() => loadConfig({ HTTP_HEADERS_TIMEOUT_MS: '5000', HTTP_REQUEST_TIMEOUT_MS: '1000' })).toThrow(
      'HTTP_HEADERS_TIMEOUT_MS must not be more than HTTP_REQUEST_TIMEOUT_MS',
    );
  });
});
