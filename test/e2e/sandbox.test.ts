import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket, { WebSocketServer } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTwilioClient } from '../../src/core/twilio-client.ts';
import { EventLog } from '../../src/sandbox/event-log.ts';
import { fixtureText, loadFixture } from '../../src/sandbox/fixtures.ts';
import { decode, encode, rms, silence, tone } from '../../src/sandbox/mulaw.ts';
import { startOpenAIRealtimeStandIn, type OpenAIRealtimeStandIn } from '../../src/sandbox/openai-realtime.server.ts';
import { appendAudio, realtimeClient, refusedUpgrade, standInApiKey } from '../support/realtime-client.ts';
import { SimulatedCaller } from '../../src/sandbox/simulated-caller.ts';
import { startTwilioApiStandIn, type TwilioApiStandIn } from '../../src/sandbox/twilio-api.server.ts';

describe('μ-law', () => {
  it('encodes and decodes G.711 reference values', () => {
    expect(decode(0xff)).toBe(0);
    expect(encode(0)).toBe(0xff);
    expect(decode(0x00)).toBe(-32124);
    expect(decode(0x80)).toBe(32124);
    expect(encode(32767)).toBe(0x80);
    expect(encode(-32768)).toBe(0x00);
  });

  it('round-trips every code and keeps the quantisation error within one step', () => {
    for (let byte = 0; byte < 256; byte++) {
      // 0x7f is "negative zero"; it decodes to 0, which encodes as 0xff.
      expect(encode(decode(byte))).toBe(byte === 0x7f ? 0xff : byte);
    }
    for (let sample = -32000; sample <= 32000; sample += 37) {
      expect(Math.abs(decode(encode(sample)) - sample)).toBeLessThanOrEqual(Math.max(4, Math.abs(sample) / 16));
    }
  });

  it('makes silence and tones of the asked length', () => {
    expect(silence(100)).toEqual(Buffer.alloc(800, 0xff));
    expect(rms(silence(100))).toBe(0);
    expect(tone(500, { amplitude: 8000 })).toHaveLength(4000);
    expect(rms(tone(500, { amplitude: 8000 }))).toBeCloseTo(8000 / Math.SQRT2, -2);
  });

  it('ships Hebrew speech fixtures of at most 4 s', () => {
    for (const name of ['caller-booking', 'agent-greeting'] as const) {
      const audio = loadFixture(name);
      expect(audio.length).toBeGreaterThan(16_000);
      expect(audio.length).toBeLessThanOrEqual(32_000);
      expect(rms(audio)).toBeGreaterThan(500);
    }
  });
});

describe('OpenAI Realtime stand-in', () => {
  let standIn: OpenAIRealtimeStandIn;
  beforeAll(async () => {
    standIn = await startOpenAIRealtimeStandIn({ apiKey: standInApiKey, pace: 'instant' });
  });
  afterAll(() => standIn.close());

  it('refuses a connection without the right key or a model, with OpenAI\'s error body', async () => {
    const url = `${standIn.url}?model=gpt-realtime`;
    expect(await refusedUpgrade(url, {})).toMatchObject({ status: 401 });
    expect(await refusedUpgrade(url, { Authorization: 'Bearer wrong' })).toMatchObject({ status: 401, body: { error: { code: 'invalid_api_key' } } });
    expect(await refusedUpgrade(standIn.url, { Authorization: `Bearer ${standInApiKey}` })).toMatchObject({ status: 400, body: { error: { code: 'missing_required_parameter' } } });
  });

  it('announces the session and merges session.update into it', async () => {
    const client = await realtimeClient(standIn);
    const created = await client.next('session.created');
    expect(created.session).toMatchObject({ type: 'realtime', model: 'gpt-realtime', id: expect.stringMatching(/^sess_/) });

    client.send({ type: 'session.update', session: { type: 'realtime', instructions: 'דבר עברית', audio: { input: { format: { type: 'audio/pcmu' } }, output: { format: { type: 'audio/pcmu' }, voice: 'marin' } } } });
    const updated = await client.next('session.updated');
    expect(updated.session).toMatchObject({
      instructions: 'דבר עברית',
      audio: { input: { format: { type: 'audio/pcmu' }, turn_detection: { type: 'server_vad' } }, output: { format: { type: 'audio/pcmu' } } },
    });
    await client.close();
  });

  it('streams a response: item, content part, interleaved transcript and 100 ms audio deltas, done events', async () => {
    const client = await realtimeClient(standIn);
    await client.next('session.created');
    client.send({ type: 'response.create' });
    const done = await client.next('response.done');
    expect(done.response).toMatchObject({ status: 'completed', output: [{ type: 'message', role: 'assistant', status: 'completed' }] });

    const types = client.events.items.map((event) => event.type);
    const withoutDeltas = types.filter((type) => !type.endsWith('.delta'));
    expect(withoutDeltas).toEqual([
      'session.created',
      'response.created',
      'response.output_item.added',
      'conversation.item.added',
      'response.content_part.added',
      'response.output_audio.done',
      'response.output_audio_transcript.done',
      'response.content_part.done',
      'response.output_item.done',
      'conversation.item.done',
      'response.done',
    ]);
    const audioDeltas = client.ofType('response.output_audio.delta');
    const audio = Buffer.concat(audioDeltas.map((event) => Buffer.from(event.delta, 'base64')));
    expect(audio).toEqual(loadFixture('agent-greeting'));
    expect(audioDeltas.every((event) => Buffer.from(event.delta, 'base64').length <= 800)).toBe(true);
    expect(client.ofType('response.output_audio_transcript.delta').map((event) => event.delta).join('')).toBe(fixtureText('agent-greeting'));
    expect(client.ofType('response.output_audio_transcript.done')[0]?.transcript).toBe(fixtureText('agent-greeting'));
    // Interleaved: some transcript comes after the first audio delta.
    expect(types.lastIndexOf('response.output_audio_transcript.delta')).toBeGreaterThan(types.indexOf('response.output_audio.delta'));
    await client.close();
  });

  it('detects the caller\'s turn, transcribes it and answers with the scripted reply', async () => {
    const client = await realtimeClient(standIn);
    const session = client.session;
    session.script({ callerTranscripts: [fixtureText('caller-booking')], replies: [{ text: 'בשמחה, לאיזה יום?' }] });
    client.send({ type: 'session.update', session: { type: 'realtime', audio: { input: { format: { type: 'audio/pcmu' }, transcription: { model: 'gpt-4o-transcribe', language: 'he' } } } } });
    await client.next('session.updated');

    appendAudio(client, Buffer.concat([silence(200), loadFixture('caller-booking'), silence(700)]));
    const started = await client.next('input_audio_buffer.speech_started');
    const stopped = await client.next('input_audio_buffer.speech_stopped');
    const transcribed = await client.next('conversation.item.input_audio_transcription.completed');
    const reply = await client.next('response.output_audio_transcript.done');
    await client.next('response.done');

    expect(started.audio_start_ms).toBe(0); // 200 ms of silence, minus 300 ms prefix padding
    expect(stopped.audio_end_ms).toBeGreaterThan(3_000);
    expect(stopped.audio_end_ms).toBeLessThanOrEqual(200 + 3_300 + 500);
    expect(stopped.item_id).toBe(started.item_id);
    expect(transcribed).toMatchObject({ item_id: started.item_id, content_index: 0, transcript: fixtureText('caller-booking'), usage: { type: 'duration' } });
    expect(client.ofType('conversation.item.input_audio_transcription.delta').map((event) => event.delta).join('')).toBe(fixtureText('caller-booking'));
    expect(reply.transcript).toBe('בשמחה, לאיזה יום?');
    const order = client.events.items.map((event) => event.type);
    expect(order.indexOf('input_audio_buffer.committed')).toBeGreaterThan(order.indexOf('input_audio_buffer.speech_stopped'));
    expect(order.indexOf('response.created')).toBeGreaterThan(order.indexOf('input_audio_buffer.committed'));
    expect(session.received.filter((event) => event.type === 'input_audio_buffer.append')).toHaveLength(Math.ceil((200 + 3_296.25 + 700) / 20));
    await client.close();
  });

  it('leaves turns to the client when turn detection is off, and transcribes only when asked', async () => {
    const client = await realtimeClient(standIn);
    client.send({ type: 'session.update', session: { type: 'realtime', audio: { input: { turn_detection: null } } } });
    await client.next('session.updated');
    client.send({ type: 'input_audio_buffer.commit' });
    expect((await client.next('error')).error.code).toBe('input_audio_buffer_commit_empty');

    appendAudio(client, loadFixture('caller-booking').subarray(0, 2_400));
    client.send({ type: 'input_audio_buffer.commit' });
    const committed = await client.next('input_audio_buffer.committed');
    const item = await client.next('conversation.item.done');
    expect(item.item).toMatchObject({ id: committed.item_id, type: 'message', role: 'user', content: [{ type: 'input_audio' }] });
    // Proves an absence: a transcription would come on a timer 5 ms after the commit (instant pace).
    await sleep(50);
    const types = client.events.items.map((event) => event.type);
    expect(types).not.toContain('input_audio_buffer.speech_started');
    expect(types).not.toContain('conversation.item.input_audio_transcription.completed');
    expect(types).not.toContain('response.created');
    expect(client.session.inputAudioMs).toBe(300);
    await client.close();
  });

  it('answers malformed and impossible events with invalid_request_error and stays open', async () => {
    const client = await realtimeClient(standIn);
    const session = client.session;
    client.send('{"type": "session.update",');
    client.send({ type: 'response.launch' });
    client.send({ type: 'input_audio_buffer.append', audio: 'not base64!' });
    client.send({ type: 'response.cancel', event_id: 'evt_cancel' });
    client.send({ type: 'conversation.item.truncate', item_id: 'item_missing', content_index: 0, audio_end_ms: 10 });
    await client.events.waitFor(() => client.ofType('error').length === 5);
    expect(client.ofType('error').map((event) => [event.error.type, event.error.code])).toEqual([
      ['invalid_request_error', 'invalid_json'],
      ['invalid_request_error', 'invalid_value'],
      ['invalid_request_error', 'invalid_value'],
      ['invalid_request_error', 'response_cancel_not_active'],
      ['invalid_request_error', 'item_not_found'],
    ]);
    expect(client.ofType('error')[3]?.error.event_id).toBe('evt_cancel');
    expect(session.rejected).toHaveLength(3);

    client.send({ type: 'input_audio_buffer.clear' });
    await client.next('input_audio_buffer.cleared');
    expect(client.socket.readyState).toBe(WebSocket.OPEN);
    await client.close();
  });

  it('drops a session abruptly, as a network failure would', async () => {
    const client = await realtimeClient(standIn);
    const session = client.session;
    const clientClosed = once(client.socket, 'close');
    session.drop();
    const [code] = (await clientClosed) as [number];
    expect(code).toBe(1006);
    expect((await session.closed).code).toBe(1006);
  });
});

describe('OpenAI Realtime stand-in at playback pace', () => {
  it('streams a delta per 100 ms without bursts, cancels on barge-in and truncates what was heard', async () => {
    const standIn = await startOpenAIRealtimeStandIn({ pace: 'realtime', audioBurst: { deltas: 1, intervalMs: 100 } });
    try {
      const client = await realtimeClient(standIn);
      const session = client.session;
      client.send({ type: 'response.create' });
      const first = await client.next('response.output_audio.delta');
      const firstAt = performance.now();
      await client.events.waitFor(() => client.ofType('response.output_audio.delta').length === 3);
      expect(performance.now() - firstAt).toBeGreaterThanOrEqual(180);

      appendAudio(client, loadFixture('caller-booking').subarray(0, 1_600));
      await client.next('input_audio_buffer.speech_started');
      const done = await client.next('response.done');
      expect(done.response).toMatchObject({ status: 'cancelled', status_details: { type: 'cancelled', reason: 'turn_detected' } });
      expect(client.ofType('response.output_item.done')[0]?.item).toMatchObject({ status: 'incomplete' });
      const deltasAtCancel = client.ofType('response.output_audio.delta').length;
      expect(deltasAtCancel).toBeLessThan(Math.ceil(loadFixture('agent-greeting').length / 800));

      client.send({ type: 'conversation.item.truncate', item_id: first.item_id, content_index: 0, audio_end_ms: 150 });
      const truncated = await client.next('conversation.item.truncated');
      expect(truncated).toMatchObject({ item_id: first.item_id, content_index: 0, audio_end_ms: 150 });
      expect(session.truncations).toEqual([{ item_id: first.item_id, content_index: 0, audio_end_ms: 150 }]);

      // Audio the client was never sent cannot have been played.
      client.send({ type: 'conversation.item.truncate', item_id: first.item_id, content_index: 0, audio_end_ms: 60_000 });
      expect((await client.next('error')).error).toMatchObject({ code: 'invalid_value', param: 'audio_end_ms' });
      // Proves an absence: 2½ delta intervals (100 ms at this pace) pass with no delta after the cancel.
      await sleep(250);
      expect(client.ofType('response.output_audio.delta')).toHaveLength(deltasAtCancel);
      await client.close();
    } finally {
      await standIn.close();
    }
  });
});

describe('simulated caller', () => {
  let server: WebSocketServer;
  let url: string;
  const connections = new EventLog<{ socket: WebSocket; messages: EventLog<Record<string, any>> }>('media stream');
  beforeAll(async () => {
    server = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/twilio/media' });
    server.on('connection', (socket) => {
      const messages = new EventLog<Record<string, any>>('message from the caller');
      socket.on('message', (data) => {
        const text = String(data);
        const message = text.startsWith('{') ? (JSON.parse(text) as Record<string, unknown>) : { raw: text };
        messages.push({ ...message, receivedAt: performance.now() });
      });
      connections.push({ socket, messages });
    });
    await once(server, 'listening');
    url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/twilio/media`;
  });
  afterAll(async () => {
    for (const client of server.clients) client.terminate();
    await new Promise((resolve) => server.close(resolve));
  });

  async function call(options: Parameters<typeof SimulatedCaller.connect>[1] = {}) {
    const before = connections.items.length;
    const caller = await SimulatedCaller.connect(url, { callSid: 'CA' + '1'.repeat(32), streamSid: 'MZ' + '2'.repeat(32), ...options });
    const server = await connections.waitFor(() => true, 5_000, { after: before });
    return { caller, server };
  }

  it('opens the stream as Twilio does and speaks in 20 ms frames', async () => {
    const { caller, server } = await call({ accountSid: 'AC' + '3'.repeat(32), customParameters: { token: 'abc' } });
    caller.start();
    await caller.play(loadFixture('caller-booking').subarray(0, 1_000), { pace: 'instant' });
    caller.stop();
    const stopped = await server.messages.waitFor((message) => message.event === 'stop');
    const messages = server.messages.items.map(({ receivedAt, ...message }) => message);

    expect(messages[0]).toEqual({ event: 'connected', protocol: 'Call', version: '1.0.0' });
    expect(messages[1]).toEqual({
      event: 'start',
      sequenceNumber: '1',
      start: {
        accountSid: 'AC' + '3'.repeat(32),
        streamSid: caller.streamSid,
        callSid: caller.callSid,
        tracks: ['inbound'],
        customParameters: { token: 'abc' },
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      },
      streamSid: caller.streamSid,
    });
    const media = messages.filter((message) => message.event === 'media');
    expect(media).toHaveLength(7); // 1 000 bytes → 7 frames, the last padded with silence
    expect(media.map((message) => [message.sequenceNumber, message.media.chunk, message.media.timestamp])).toEqual(
      [0, 1, 2, 3, 4, 5, 6].map((i) => [String(i + 2), String(i + 1), String(i * 20)]),
    );
    expect(media.every((message) => message.media.track === 'inbound' && Buffer.from(message.media.payload, 'base64').length === 160)).toBe(true);
    expect(Buffer.concat(media.map((message) => Buffer.from(message.media.payload, 'base64'))).subarray(0, 1_000)).toEqual(loadFixture('caller-booking').subarray(0, 1_000));
    expect(stopped).toMatchObject({ event: 'stop', sequenceNumber: '9', stop: { accountSid: 'AC' + '3'.repeat(32), callSid: caller.callSid }, streamSid: caller.streamSid });
    await caller.close();
  });

  it('speaks at call pace: one frame per 20 ms', async () => {
    const { caller, server } = await call();
    caller.start();
    const startedAt = performance.now();
    await caller.play(tone(200), { pace: 'realtime' });
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(170);
    await server.messages.waitFor(() => server.messages.items.filter((message) => message.event === 'media').length === 10);
    const arrivals = server.messages.items.filter((message) => message.event === 'media').map((message) => message.receivedAt);
    expect((arrivals.at(-1) ?? 0) - (arrivals[0] ?? 0)).toBeGreaterThanOrEqual(170);
    await caller.close();
  });

  it('returns a mark only after the audio sent before it has played', async () => {
    const { caller, server } = await call();
    const streamSid = caller.streamSid;
    const sentAt = performance.now();
    server.socket.send(JSON.stringify({ event: 'media', streamSid, media: { payload: tone(200).toString('base64') } }));
    server.socket.send(JSON.stringify({ event: 'mark', streamSid, mark: { name: 'greeting-done' } }));
    const mark = await server.messages.waitFor((message) => message.event === 'mark');

    expect(mark).toMatchObject({ event: 'mark', streamSid, mark: { name: 'greeting-done' }, sequenceNumber: '1' });
    expect(mark.receivedAt - sentAt).toBeGreaterThanOrEqual(190);
    expect(caller.receivedAudio()).toEqual(tone(200));
    expect(caller.mediaFrames).toBe(1);
    expect(caller.heardMs()).toBe(200);

    // With nothing left to play, a mark comes straight back.
    server.socket.send(JSON.stringify({ event: 'mark', streamSid, mark: { name: 'idle' } }));
    const idle = await server.messages.waitFor((message) => message.mark?.name === 'idle');
    expect(idle.receivedAt - mark.receivedAt).toBeLessThan(100);
    await caller.close();
  });

  it('plays the agent\'s audio after the line\'s delay, so its marks come back that much later', async () => {
    const { caller, server } = await call({ playbackDelayMs: 300 });
    const streamSid = caller.streamSid;
    const sentAt = performance.now();
    server.socket.send(JSON.stringify({ event: 'media', streamSid, media: { payload: tone(200).toString('base64') } }));
    server.socket.send(JSON.stringify({ event: 'mark', streamSid, mark: { name: 'heard' } }));
    await caller.waitFor((message) => message.event === 'mark');
    expect(caller.heardMs()).toBe(0);
    const mark = await server.messages.waitFor((message) => message.event === 'mark');
    expect(mark.receivedAt - sentAt).toBeGreaterThanOrEqual(490);
    expect(caller.heardMs()).toBe(200);

    // Cleared before the delay is over: nothing of it is ever heard.
    server.socket.send(JSON.stringify({ event: 'media', streamSid, media: { payload: tone(200).toString('base64') } }));
    await caller.waitFor((message) => message.event === 'media', 5_000, { after: 2 });
    server.socket.send(JSON.stringify({ event: 'clear', streamSid }));
    await caller.waitFor((message) => message.event === 'clear');
    expect(caller.heardMs()).toBe(200);
    await caller.close();
  });

  it('drops unplayed audio on clear and returns every pending mark at once', async () => {
    const { caller, server } = await call({ playbackDelayMs: 0 });
    const streamSid = caller.streamSid;
    server.socket.send(JSON.stringify({ event: 'media', streamSid, media: { payload: tone(2_000).toString('base64') } }));
    server.socket.send(JSON.stringify({ event: 'mark', streamSid, mark: { name: 'one' } }));
    server.socket.send(JSON.stringify({ event: 'media', streamSid, media: { payload: tone(1_000).toString('base64') } }));
    server.socket.send(JSON.stringify({ event: 'mark', streamSid, mark: { name: 'two' } }));
    await caller.waitFor((message) => message.event === 'mark' && message.mark.name === 'two');
    // Proves an absence: marks come back on the playback clock, so no mark during 100 ms of 3 s of audio.
    await sleep(100);
    expect(caller.returnedMarks()).toEqual([]);

    const clearedAt = performance.now();
    server.socket.send(JSON.stringify({ event: 'clear', streamSid }));
    await server.messages.waitFor((message) => message.mark?.name === 'two');
    expect(performance.now() - clearedAt).toBeLessThan(500);
    expect(caller.returnedMarks()).toEqual(['one', 'two']);
    expect(caller.events.map((message) => message.event)).toEqual(['media', 'mark', 'media', 'mark', 'clear']);
    expect(caller.heardMs()).toBeGreaterThanOrEqual(100);
    expect(caller.heardMs()).toBeLessThan(1_000);

    // Messages Twilio would reject are recorded, not played.
    caller.sendRaw('not json');
    server.socket.send(JSON.stringify({ event: 'media', streamSid: 'MZ-other', media: { payload: tone(20).toString('base64') } }));
    // The socket keeps order: once a later mark is in, the stray frame has been dealt with.
    server.socket.send(JSON.stringify({ event: 'mark', streamSid, mark: { name: 'after' } }));
    await caller.waitFor((message) => message.event === 'mark' && message.mark.name === 'after');
    expect(caller.invalid).toHaveLength(1);
    expect(caller.mediaFrames).toBe(2);
    await caller.close();
  });
});

describe('Twilio REST stand-in with the official SDK', () => {
  let twilioApi: TwilioApiStandIn;
  const callSid = 'CA' + 'a'.repeat(32);
  beforeAll(async () => {
    twilioApi = await startTwilioApiStandIn();
    // Twilio knows only the calls it has: this one came in (an unknown CallSid is 404).
    twilioApi.addCall({ sid: callSid });
  });
  afterAll(() => twilioApi.close());

  function client(authToken = twilioApi.authToken) {
    return createTwilioClient({ accountSid: twilioApi.accountSid, authToken, apiUrl: twilioApi.url });
  }

  it('starts a dual-channel call recording with a status callback', async () => {
    const recording = await client().calls(callSid).recordings.create({
      recordingStatusCallback: 'https://callwatch.example/twilio/recording',
      recordingStatusCallbackEvent: ['completed', 'absent'],
      recordingChannels: 'dual',
    });
    expect(recording).toMatchObject({ callSid, status: 'in-progress', channels: 2, accountSid: twilioApi.accountSid });
    expect(recording.sid).toMatch(/^RE[0-9a-f]{32}$/);
    expect(twilioApi.requests.at(-1)).toEqual({
      method: 'POST',
      path: `/2010-04-01/Accounts/${twilioApi.accountSid}/Calls/${callSid}/Recordings.json`,
      params: { RecordingStatusCallback: 'https://callwatch.example/twilio/recording', RecordingStatusCallbackEvent: ['completed', 'absent'], RecordingChannels: 'dual' },
      authAccountSid: twilioApi.accountSid,
      status: 201,
      at: expect.any(Date),
    });
  });

  it('redirects a call with TwiML and hangs it up', async () => {
    const redirected = await client().calls(callSid).update({ twiml: '<Response><Hangup/></Response>' });
    expect(redirected.status).toBe('in-progress');
    const ended = await client().calls(callSid).update({ status: 'completed' });
    expect(ended).toMatchObject({ sid: callSid, status: 'completed' });
    expect(ended.endTime).toBeInstanceOf(Date);
    expect(twilioApi.requests.slice(-2).map((request) => request.params)).toEqual([{ Twiml: '<Response><Hangup/></Response>' }, { Status: 'completed' }]);
    await expect(client().calls(callSid).update({ twiml: '<Response/>' })).rejects.toMatchObject({ status: 400, code: 21220 });
    await expect(client().calls(`CA${'b'.repeat(32)}`).fetch()).rejects.toMatchObject({ status: 404, code: 20404 });
  });

  it('answers a wrong auth token and an injected failure with Twilio\'s error body', async () => {
    await expect(client('wrong-token').calls(callSid).fetch()).rejects.toMatchObject({ status: 401, code: 20003, moreInfo: 'https://www.twilio.com/docs/errors/20003' });
    twilioApi.failNext(404);
    await expect(client().calls(callSid).recordings.create()).rejects.toMatchObject({ status: 404, code: 20404 });
    expect(twilioApi.requests.slice(-2).map((request) => request.status)).toEqual([401, 404]);
  });
});
