import { createServer, type Server } from 'node:http';
import twilio from 'twilio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { createTwilioClient } from '../../src/core/twilio-client.ts';
import { twilioSid } from '../../src/sandbox/ids.ts';
import { SimulatedCaller } from '../../src/sandbox/simulated-caller.ts';
import { startTwilioApiStandIn, type CallState, type TwilioApiStandIn } from '../../src/sandbox/twilio-api.server.ts';

/** What the application's end of a media stream saw: Twilio's messages, and the close. */
interface StreamSeen {
  events: string[];
  closed: Promise<void>;
}

describe('Twilio REST stand-in: a call’s lifecycle', () => {
  let twilioApi: TwilioApiStandIn;
  let media: WebSocketServer;
  const seen: StreamSeen[] = [];
  let app: Server;
  const statusCallbacks: { params: Record<string, string>; signed: boolean }[] = [];
  const publicUrl = 'https://callwatch.example';

  beforeAll(async () => {
    twilioApi = await startTwilioApiStandIn();
    media = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    media.on('connection', (socket: WebSocket) => {
      const entry: StreamSeen = { events: [], closed: new Promise((resolve) => socket.once('close', () => resolve())) };
      socket.on('message', (data) => entry.events.push((JSON.parse(data.toString()) as { event: string }).event));
      socket.once('close', () => entry.events.push('closed'));
      seen.push(entry);
    });
    await new Promise((resolve) => media.once('listening', resolve));
    // The application's /twilio/status: checks the signature as Callwatch does.
    app = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        const params = Object.fromEntries(new URLSearchParams(body));
        const signed = twilio.validateRequest(twilioApi.authToken, String(req.headers['x-twilio-signature']), `${publicUrl}${req.url}`, params);
        statusCallbacks.push({ params, signed });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    const address = app.address();
    if (typeof address !== 'object' || !address) throw new Error('no address');
    twilioApi.routeOrigin(publicUrl, `http://127.0.0.1:${address.port}`);
  });
  afterAll(async () => {
    await twilioApi.close();
    await new Promise((resolve) => media.close(resolve));
    await new Promise((resolve) => app.close(resolve));
  });

  function client() {
    return createTwilioClient({ accountSid: twilioApi.accountSid, authToken: twilioApi.authToken, apiUrl: twilioApi.url });
  }

  /** An inbound call Twilio received, with its media stream open to the "application". */
  async function liveCall(options: Partial<CallState> = {}): Promise<{ call: CallState; caller: SimulatedCaller; stream: StreamSeen }> {
    const call = twilioApi.addCall({ sid: twilioSid('CA'), ...options });
    const before = seen.length;
    const address = media.address();
    if (typeof address !== 'object' || !address) throw new Error('no port');
    const caller = await SimulatedCaller.connect(`ws://127.0.0.1:${address.port}`, { callSid: call.sid, playback: 'instant' });
    caller.start();
    twilioApi.attachStream(call.sid, caller);
    await waitUntil(() => seen.length > before && seen[before]!.events.includes('start'));
    return { call, caller, stream: seen[before]! };
  }

  it('answers an unknown CallSid with 404 (code 20404), as Twilio does, and creates nothing', async () => {
    const unknown = twilioSid('CA');
    await expect(client().calls(unknown).fetch()).rejects.toMatchObject({ status: 404, code: 20404 });
    await expect(client().calls(unknown).update({ status: 'completed' })).rejects.toMatchObject({ status: 404, code: 20404 });
    await expect(client().calls(unknown).recordings.create()).rejects.toMatchObject({ status: 404, code: 20404 });
    expect(twilioApi.calls.has(unknown)).toBe(false);
  });

  it('stops and closes the stream of a call hung up through the API, after the REST answer, and the call has ended', async () => {
    const ended: string[] = [];
    const unsubscribe = twilioApi.onCallEnded((call) => ended.push(call.sid));
    const { call, stream } = await liveCall();
    const answer = await client().calls(call.sid).update({ status: 'completed' });
    expect(answer.status).toBe('completed');
    // The answer came first: the stream is still open, its stop comes a moment later.
    expect(stream.events).not.toContain('stop');
    await stream.closed;
    expect(stream.events.slice(-2)).toEqual(['stop', 'closed']);
    expect(ended).toEqual([call.sid]);
    expect(twilioApi.calls.get(call.sid)).toMatchObject({ status: 'completed', endedAt: expect.any(Date) });
    unsubscribe();
  });

  it('ends the stream of a call redirected to <Dial>, and the call stays in progress (the caller talks to the person)', async () => {
    const { call, stream } = await liveCall();
    const answer = await client().calls(call.sid).update({ twiml: '<Response><Dial answerOnBridge="true">+972529998877</Dial></Response>' });
    expect(answer.status).toBe('in-progress');
    await stream.closed;
    expect(stream.events.slice(-2)).toEqual(['stop', 'closed']);
    expect(twilioApi.calls.get(call.sid)?.status).toBe('in-progress');
  });

  it('completes a call redirected to TwiML that hangs up once its stream is gone', async () => {
    const { call, stream } = await liveCall();
    const answer = await client().calls(call.sid).update({ twiml: '<Response><Say>להתראות</Say><Hangup/></Response>' });
    expect(answer.status).toBe('in-progress');
    await stream.closed;
    await waitUntil(() => twilioApi.calls.get(call.sid)?.status === 'completed');
  });

  it('can stop the stream before the REST answer is sent (stopStreams("before-response"))', async () => {
    twilioApi.stopStreams('before-response');
    try {
      const { call, stream } = await liveCall();
      await client().calls(call.sid).update({ status: 'completed' });
      // By the time the application has its answer, the stream has stopped and closed.
      expect(stream.events.slice(-2)).toEqual(['stop', 'closed']);
    } finally {
      twilioApi.stopStreams(150);
    }
  });

  it('lets the caller hang up: stop, close, the call completed, and its final status callback, signed', async () => {
    const ended: CallState[] = [];
    const unsubscribe = twilioApi.onCallEnded((call) => ended.push({ ...call }));
    const { call, stream } = await liveCall({ from: '+972501234567', to: '+97233824100', statusCallback: `${publicUrl}/twilio/status` });
    await twilioApi.hangUp(call.sid);
    expect(stream.events.slice(-2)).toEqual(['stop', 'closed']);
    expect(ended).toMatchObject([{ sid: call.sid, status: 'completed' }]);
    const callback = await twilioApi.waitForCallback((c) => c.callSid === call.sid && c.kind === 'status');
    expect(callback).toMatchObject({ status: 204, url: `${publicUrl}/twilio/status` });
    expect(statusCallbacks.find((c) => c.params.CallSid === call.sid)).toMatchObject({
      signed: true,
      params: { CallStatus: 'completed', Direction: 'inbound', From: '+972501234567', To: '+97233824100', CallDuration: '0', SequenceNumber: '0', AccountSid: twilioApi.accountSid },
    });
    await expect(twilioApi.hangUp(call.sid)).rejects.toThrow(/not in progress/);
    unsubscribe();
  });

  it('can send the final status callback late (delayStatusCallbacks)', async () => {
    twilioApi.delayStatusCallbacks(200);
    try {
      const { call } = await liveCall({ statusCallback: `${publicUrl}/twilio/status` });
      await twilioApi.hangUp(call.sid);
      expect(twilioApi.callbacks.some((c) => c.callSid === call.sid)).toBe(false);
      await twilioApi.waitForCallback((c) => c.callSid === call.sid && c.params.CallStatus === 'completed');
    } finally {
      twilioApi.delayStatusCallbacks(0);
    }
  });
});

async function waitUntil(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
