import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { signStreamToken } from '../../src/realtime/twilio-line/stream-token.ts';
import { answerCall, connectCaller, endedCall, eventually, placeCall, useCallHarness, type CallHarness } from '../support/calls.ts';
import { createCall } from '../support/factories.ts';

/**
 * Who gets an OpenAI Realtime session. Regression: every websocket to /twilio/media opened
 * one on the platform's key before any token was checked, and an idle socket was never
 * closed — 300 anonymous sockets were 300 OpenAI sessions. Now only a verified call gets
 * one: opened by the Twilio-signed voice webhook while Twilio connects the stream (and
 * taken by that call's stream on this instance), or after the token check at `start`.
 */

let sequence = 1700;
const nextSid = () => `CA${String(++sequence).padStart(32, '0')}`;

const mediaUrl = (harness: CallHarness) => `${harness.app.url.replace('http', 'ws')}/twilio/media`;

/** A websocket to /twilio/media that says what Twilio says — or nothing at all. */
function rawMediaSocket(harness: CallHarness): Promise<{ socket: WebSocket; closed: Promise<{ code: number; reason: string }> }> {
  const socket = new WebSocket(mediaUrl(harness));
  const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve({ socket, closed }));
    socket.once('error', reject);
  });
}

describe('media sockets without a verified call', () => {
  const h = useCallHarness();

  it('never open an OpenAI session, and are closed (1008) when no valid start comes within 5 s', async () => {
    const connectionsBefore = h.openai.connections;
    const timeoutsBefore = h.app.services.metrics.get('media_start_timeout_total');
    const idle = await rawMediaSocket(h);
    // A start that fails the schema (the token is not a string) is no start either.
    const malformed = await rawMediaSocket(h);
    malformed.socket.send(JSON.stringify({ event: 'start', sequenceNumber: '1', streamSid: 'MZ1', start: { accountSid: 'AC1', callSid: 'CA1', streamSid: 'MZ1', tracks: ['inbound'], customParameters: { token: 123 }, mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 } } }));

    expect(await idle.closed).toEqual({ code: 1008, reason: 'no valid start in time' });
    expect(await malformed.closed).toEqual({ code: 1008, reason: 'no valid start in time' });
    expect(h.app.services.metrics.get('media_start_timeout_total') - timeoutsBefore).toBe(2);
    expect(h.openai.connections).toBe(connectionsBefore);
  });
});

describe('the OpenAI session of a verified call', () => {
  const h = useCallHarness();

  it('is opened by the signed voice webhook before the stream connects, and the stream takes it', async () => {
    const callSid = nextSid();
    const connectionsBefore = h.openai.connections;
    const { token } = await answerCall(h, callSid);
    await eventually(() => h.openai.connections, (n) => n === connectionsBefore + 1, 'the pre-opened session');
    const session = h.openai.sessions.at(-1)!;
    const caller = await connectCaller(h, callSid, token);
    session.script({ replies: [{ text: 'שלום' }] });
    caller.start();
    const update = await session.waitForReceived('session.update');
    // The live transcript's model is its own (a streaming one), not the post-call one.
    expect(update.session).toMatchObject({ audio: { input: { transcription: { model: 'gpt-live-transcribe' } } } });
    expect(session.model).toBe('gpt-realtime-1.5');
    await eventually(() => caller.heardMs(), (ms) => ms >= 500, 'the greeting');
    expect(h.openai.connections).toBe(connectionsBefore + 1);
    expect(h.app.services.metrics.get('realtime_preopened_used_total')).toBeGreaterThanOrEqual(1);
    caller.stop();
    await caller.closed;
    expect((await endedCall(h, callSid)).status).toBe('completed');
  });

  it('is opened at start, after the token check, when the webhook was answered elsewhere', async () => {
    const callSid = nextSid();
    const em = h.app.services.orm.em.fork();
    const call = await createCall(em, h.business.id, { callSid, lead: h.sarah.id, status: 'in-progress', durationSec: null });
    const token = signStreamToken({ callSid, callId: call.id, businessId: h.business.id, leadId: h.sarah.id, outboundJobId: null }, h.app.services.config.appSecret);
    const connectionsBefore = h.openai.connections;
    const caller = await connectCaller(h, callSid, token);
    // Connected, not started: still no session.
    await new Promise((resolve) => setImmediate(resolve));
    expect(h.openai.connections).toBe(connectionsBefore);
    caller.start();
    const session = await h.openai.nextSession();
    session.script({ replies: [{ text: 'שלום' }] });
    await session.waitForReceived('session.update');
    await eventually(() => caller.heardMs(), (ms) => ms >= 500, 'the greeting');
    caller.stop();
    await caller.closed;
    expect((await endedCall(h, callSid)).status).toBe('completed');
  });
});

describe('a media socket that ignores our close', () => {
  const h = useCallHarness({}, { env: { MEDIA_MAX_SOCKETS: '1' } });

  it('is destroyed a second after the close, freeing its place under MEDIA_MAX_SOCKETS (regression: it held it for ws’s 30 s close timeout)', async () => {
    // A raw upgrade that never answers a close frame (and never sends `start`).
    const { port } = new URL(h.app.url);
    const raw = connect(Number(port), '127.0.0.1');
    const upgraded = new Promise<void>((resolve) => raw.once('data', () => resolve()));
    raw.write(`GET /twilio/media HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    await upgraded;
    const closed = new Promise<number>((resolve) => raw.once('close', () => resolve(performance.now())));
    const openedAt = performance.now();
    const closedAt = await closed;
    // The start timeout (5 s), then at most the grace: far from 30 s.
    expect(closedAt - openedAt).toBeLessThan(10_000);
    expect(h.app.services.metrics.get('media_start_timeout_total')).toBe(1);
    const next = await eventually(() => rawMediaSocket(h).catch(() => null), (socket) => socket !== null, 'a place under the cap again', 5_000);
    next!.socket.close();
    await next!.closed;
  });
});

describe('a pre-opened session nobody takes', () => {
  const h = useCallHarness({}, { preopenTtlMs: 300 });

  it('is closed once its wait is over, so an abandoned call costs no OpenAI session', async () => {
    const sessionsBefore = h.openai.sessions.length;
    await answerCall(h, nextSid());
    await eventually(() => h.openai.sessions.length, (n) => n === sessionsBefore + 1, 'the pre-opened session');
    const session = h.openai.sessions[sessionsBefore]!;
    expect(await session.closed).toMatchObject({ code: 1000 });
    expect(session.received).toEqual([]);
    expect(h.app.services.metrics.get('realtime_preopened_unused_total')).toBe(1);
  });
});

describe('MEDIA_MAX_SOCKETS', () => {
  const h = useCallHarness({}, { env: { MEDIA_MAX_SOCKETS: '2' } });

  it('refuses media sockets over the cap at the upgrade (503), and takes them again once one closes', async () => {
    const first = await placeCall(h, nextSid());
    first.session.script({ replies: [{ text: 'שלום' }] });
    first.caller.start();
    const second = await rawMediaSocket(h);
    const refused = await new Promise<number>((resolve) => {
      const socket = new WebSocket(mediaUrl(h));
      socket.once('unexpected-response', (_request, response) => {
        resolve(response.statusCode ?? 0);
        socket.terminate();
      });
      socket.once('error', () => {});
    });
    expect(refused).toBe(503);
    expect(h.app.services.metrics.get('media_sockets_refused_total')).toBe(1);

    second.socket.close();
    await second.closed;
    const third = await eventually(() => rawMediaSocket(h).catch(() => null), (socket) => socket !== null, 'a socket under the cap again');
    third!.socket.close();
    await third!.closed;
    first.caller.stop();
    await first.caller.closed;
    expect((await endedCall(h, first.callSid)).status).toBe('completed');
  });
});
