import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/config.ts';
import type { CallContext } from '../../src/realtime/call-context.ts';
import { sessionUpdate } from '../../src/realtime/session/openai-realtime.protocol.ts';
import { loadFixture } from '../../src/sandbox/fixtures.ts';
import { silence } from '../../src/sandbox/mulaw.ts';
import { REALTIME_MODELS, startOpenAIRealtimeStandIn, TRANSCRIPTION_MODELS, type OpenAIRealtimeStandIn } from '../../src/sandbox/openai-realtime.server.ts';
import { appendAudio, realtimeClient, refusedUpgrade, standInApiKey } from '../support/realtime-client.ts';

/** The session Callwatch opens for a call, as `sessionUpdate` builds it. */
const callContext: CallContext = {
  callId: 'call-1',
  callSid: `CA${'1'.repeat(32)}`,
  direction: 'inbound',
  business: { id: 'biz-1', name: 'שיפוצי הגליל', timeZone: 'Asia/Jerusalem', locale: 'he-IL' },
  settings: { voice: 'alloy', language: 'he', recordCalls: false, silenceTimeoutSec: 8, silenceReprompts: 2, maxCallDurationSec: 900, transferNumber: null, appointmentSlotMinutes: 30, dialingCountries: ['IL'] },
  lead: null,
  outboundJob: null,
  slots: [],
  greeting: 'שלום, ברוכים הבאים לשיפוצי הגליל. במה אפשר לעזור?',
  instructions: 'אתה הסוכן הטלפוני של שיפוצי הגליל. דבר עברית, בקצרה ובנימוס. '.repeat(60),
};

const transcribed = { type: 'realtime', audio: { input: { transcription: { model: 'gpt-4o-transcribe', language: 'he' } } } };

/** A caller turn server VAD detects: speech, then enough silence to end it. */
const callerTurn = Buffer.concat([loadFixture('caller-booking').subarray(0, 8_000), silence(700)]);

/** Timers alive in this process (`setTimeout`/`setInterval`), to show a session leaves none. */
function liveTimers(): number {
  return process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;
}

describe('OpenAI Realtime stand-in: session.update is validated as the real API does', () => {
  let standIn: OpenAIRealtimeStandIn;
  beforeAll(async () => {
    standIn = await startOpenAIRealtimeStandIn({ apiKey: standInApiKey, pace: 'instant' });
  });
  afterAll(() => standIn.close());

  it('accepts the session.update Callwatch sends for a call, with its default transcription model', async () => {
    const client = await realtimeClient(standIn, { model: 'gpt-realtime-1.5' });
    const defaults = loadConfig({}, { persistDevSecrets: false }).openai;
    client.send({ ...sessionUpdate(callContext, defaults.inputTranscribeModel), event_id: 'evt_callwatch' });
    const updated = await client.next('session.updated');
    expect(updated.session.audio).toMatchObject({ input: { format: { type: 'audio/pcmu' } }, output: { format: { type: 'audio/pcmu' }, voice: 'alloy' } });
    expect(client.ofType('error')).toEqual([]);
    await client.close();
  });

  it('rejects an invalid update whole: error naming the field, the client event_id echoed, the session still PCM 24 kHz', async () => {
    const client = await realtimeClient(standIn);
    const session = client.session;
    const before = structuredClone(session.config);
    client.send({
      type: 'session.update',
      event_id: 'evt_onyx',
      session: { type: 'realtime', instructions: 'דבר עברית', audio: { input: { format: { type: 'audio/pcmu' } }, output: { format: { type: 'audio/pcmu' }, voice: 'onyx' } } },
    });
    const error = await client.next('error');
    expect(error.error).toEqual({
      type: 'invalid_request_error',
      code: 'invalid_value',
      param: 'session.audio.output.voice',
      message: "Invalid value: 'onyx'. Supported values are: 'alloy', 'ash', 'ballad', 'coral', 'echo', 'sage', 'shimmer', 'verse', 'marin', and 'cedar'.",
      event_id: 'evt_onyx',
    });
    expect(session.config).toEqual(before);
    expect(session.config.audio).toMatchObject({ input: { format: { type: 'audio/pcm', rate: 24000 } }, output: { format: { type: 'audio/pcm', rate: 24000 } } });

    // Events are handled in order: had the bad update been applied, its session.updated would come first.
    client.send({ type: 'session.update', session: { type: 'realtime', audio: { output: { voice: 'cedar' } } } });
    await client.next('session.updated');
    expect(client.ofType('session.updated')).toHaveLength(1);
    expect(session.config.instructions).toBe(before.instructions);
    await client.close();
  });

  it('names what is wrong: an unknown field, a format, a transcription model, turn detection, a tool, too long instructions', async () => {
    const client = await realtimeClient(standIn);
    const updates = [
      { type: 'realtime', voice: 'alloy' }, // the beta's shape
      { type: 'realtime', audio: { input: { format: { type: 'audio/pcm', rate: 16000 } } } },
      { type: 'realtime', audio: { input: { transcription: { model: 'gpt-9-transcribe' } } } },
      { type: 'realtime', audio: { input: { turn_detection: { type: 'semantic_vad', silence_duration_ms: 300 } } } },
      { type: 'realtime', audio: { input: { turn_detection: { type: 'push_to_talk' } } } },
      { type: 'realtime', tools: [{ type: 'function', description: 'Books a slot.' }] },
      { type: 'realtime', output_modalities: ['text', 'audio'] },
      { type: 'realtime', instructions: 'ענה בקצרה. '.repeat(4_000) },
    ];
    for (const session of updates) client.send({ type: 'session.update', session });
    await client.events.waitFor(() => client.ofType('error').length === updates.length);
    expect(client.ofType('error').map(({ error }) => [error.code, error.param])).toEqual([
      ['unknown_parameter', 'session.voice'],
      ['invalid_value', 'session.audio.input.format.rate'],
      ['invalid_value', 'session.audio.input.transcription.model'],
      ['unknown_parameter', 'session.audio.input.turn_detection.silence_duration_ms'],
      ['invalid_value', 'session.audio.input.turn_detection.type'],
      ['missing_required_parameter', 'session.tools[0].name'],
      ['invalid_value', 'session.output_modalities'],
      ['string_above_max_length', 'session.instructions'],
    ]);
    expect(client.ofType('error').every(({ error }) => error.type === 'invalid_request_error')).toBe(true);
    expect(client.ofType('session.updated')).toEqual([]);
    expect(client.socket.readyState).toBe(WebSocket.OPEN);
    await client.close();
  });

  it('rejects a transcription model a test retired, on one session or on all', async () => {
    const client = await realtimeClient(standIn);
    client.session.rejectTranscriptionModel('gpt-4o-transcribe');
    client.send({ type: 'session.update', session: transcribed });
    expect((await client.next('error')).error).toMatchObject({ code: 'invalid_value', param: 'session.audio.input.transcription.model' });
    await client.close();

    const narrow = await startOpenAIRealtimeStandIn({ apiKey: standInApiKey, pace: 'instant', transcriptionModels: ['gpt-4o-transcribe', 'gpt-live-transcribe'] });
    try {
      const open = await realtimeClient(narrow);
      narrow.rejectTranscriptionModel('gpt-live-transcribe');
      const later = await realtimeClient(narrow);
      for (const each of [open, later]) {
        each.send({ type: 'session.update', session: { type: 'realtime', audio: { input: { transcription: { model: 'gpt-live-transcribe' } } } } });
        expect((await each.next('error')).error.param).toBe('session.audio.input.transcription.model');
        each.send({ type: 'session.update', session: { type: 'realtime', audio: { input: { transcription: { model: 'whisper-1' } } } } });
        await each.events.waitFor(() => each.ofType('error').length === 2);
        each.send({ type: 'session.update', session: transcribed });
        await each.next('session.updated');
        await each.close();
      }
    } finally {
      await narrow.close();
    }
  });
});

describe('OpenAI Realtime stand-in: input transcription arrives on its own time', () => {
  let standIn: OpenAIRealtimeStandIn;
  beforeAll(async () => {
    standIn = await startOpenAIRealtimeStandIn({ apiKey: standInApiKey, pace: 'instant' });
  });
  afterAll(() => standIn.close());

  it('sends the caller turn and the answer at once, and the transcript after response.created', async () => {
    const client = await realtimeClient(standIn);
    client.session.script({ callerTranscripts: ['אני צריכה שיפוץ מטבח'], replies: [{ text: 'בשמחה' }] });
    client.send({ type: 'session.update', session: transcribed });
    await client.next('session.updated');

    appendAudio(client, callerTurn);
    const completed = await client.next('conversation.item.input_audio_transcription.completed');
    const types = client.types();
    expect(types.indexOf('conversation.item.done')).toBeGreaterThan(types.indexOf('input_audio_buffer.committed'));
    expect(types.indexOf('response.created')).toBeGreaterThan(types.indexOf('conversation.item.done'));
    expect(types.indexOf('conversation.item.input_audio_transcription.delta')).toBeGreaterThan(types.indexOf('response.created'));
    expect(completed).toMatchObject({ item_id: client.ofType('input_audio_buffer.committed')[0]?.item_id, transcript: 'אני צריכה שיפוץ מטבח' });
    // The item as first reported has no transcript; once transcribed, the conversation's does.
    expect(client.ofType('conversation.item.done')[0]?.item).toMatchObject({ role: 'user', content: [{ type: 'input_audio' }] });
    client.send({ type: 'conversation.item.retrieve', item_id: completed.item_id });
    expect((await client.next('conversation.item.retrieved')).item).toMatchObject({ content: [{ type: 'input_audio', transcript: 'אני צריכה שיפוץ מטבח' }] });
    await client.close();
  });

  it('with a longer delay, sends the transcript after response.done', async () => {
    const client = await realtimeClient(standIn);
    client.session.script({ callerTranscripts: ['כן'], replies: [{ text: 'מצוין' }] });
    client.session.delayTranscription(1_000);
    client.send({ type: 'session.update', session: transcribed });
    await client.next('session.updated');

    appendAudio(client, callerTurn);
    await client.next('conversation.item.input_audio_transcription.completed');
    const types = client.types();
    expect(types.indexOf('conversation.item.input_audio_transcription.delta')).toBeGreaterThan(types.indexOf('response.done'));
    await client.close();
  });

  it('fails a transcription on demand with …transcription.failed, and transcribes the next turn', async () => {
    const client = await realtimeClient(standIn);
    const session = client.session;
    session.script({ callerTranscripts: ['לא שומעים', 'עכשיו כן', 'שוב'] });
    client.send({ type: 'session.update', session: { ...transcribed, audio: { input: { ...transcribed.audio.input, turn_detection: null } } } });
    await client.next('session.updated');
    const commit = async () => {
      const after = client.events.items.length;
      appendAudio(client, loadFixture('caller-booking').subarray(0, 2_400));
      client.send({ type: 'input_audio_buffer.commit' });
      return (await client.next('input_audio_buffer.committed', after)).item_id;
    };

    session.failNextTranscription();
    const unheard = await commit();
    expect(await client.next('conversation.item.input_audio_transcription.failed')).toEqual({
      type: 'conversation.item.input_audio_transcription.failed',
      event_id: expect.stringMatching(/^event_/),
      item_id: unheard,
      content_index: 0,
      error: { type: 'transcription_error', code: 'audio_unintelligible', message: 'The audio could not be transcribed.' },
    });
    const heard = await commit();
    expect(await client.next('conversation.item.input_audio_transcription.completed')).toMatchObject({ item_id: heard, transcript: 'עכשיו כן' });

    session.failNextTranscription({ code: 'rate_limit_exceeded', message: 'Transcription rate limit reached.' });
    const limited = await commit();
    await client.events.waitFor(() => client.ofType('conversation.item.input_audio_transcription.failed').length === 2);
    expect(client.ofType('conversation.item.input_audio_transcription.failed')[1]).toMatchObject({
      item_id: limited,
      error: { type: 'transcription_error', code: 'rate_limit_exceeded', message: 'Transcription rate limit reached.' },
    });
    expect(client.ofType('conversation.item.input_audio_transcription.completed').map((event) => event.item_id)).toEqual([heard]);
    await client.close();
  });

  it('drops a pending transcription when the socket closes: nothing sent after, no timer left', async () => {
    const timersBefore = liveTimers();
    const client = await realtimeClient(standIn);
    const session = client.session;
    session.delayTranscription(60_000);
    client.send({ type: 'session.update', session: { ...transcribed, audio: { input: { ...transcribed.audio.input, turn_detection: null } } } });
    await client.next('session.updated');
    appendAudio(client, loadFixture('caller-booking').subarray(0, 2_400));
    client.send({ type: 'input_audio_buffer.commit' });
    await client.next('conversation.item.done');

    await client.close();
    await session.closed;
    expect(session.sent.map((event) => event.type)).not.toContain('conversation.item.input_audio_transcription.completed');
    expect(liveTimers()).toBe(timersBefore);
  });
});

describe('OpenAI Realtime stand-in: sessions expire at the cap', () => {
  it('reports expires_at at the cap, then sends session_expired and closes with 1001', async () => {
    const standIn = await startOpenAIRealtimeStandIn({ apiKey: standInApiKey, pace: 'instant', sessionMaxMs: 1_500 });
    try {
      const openedAt = Date.now();
      const client = await realtimeClient(standIn);
      const expiresAt = (client.ofType('session.created')[0]?.session as { expires_at?: number } | undefined)?.expires_at ?? 0;
      expect(expiresAt * 1000).toBeGreaterThan(openedAt + 1_500 - 1_000);
      expect(expiresAt * 1000).toBeLessThanOrEqual(Date.now() + 1_500);

      const closed = new Promise<number>((resolve) => client.socket.once('close', (code) => resolve(code)));
      const error = await client.next('error');
      expect(error.error).toEqual({ type: 'invalid_request_error', code: 'session_expired', message: 'Your session hit the maximum duration of 1.5 seconds.', param: null, event_id: null });
      expect(await closed).toBe(1001);
      expect((await client.session.closed).code).toBe(1001);
    } finally {
      await standIn.close();
    }
  });

  it('lasts 60 minutes by default, and expires now on expire()', async () => {
    const standIn = await startOpenAIRealtimeStandIn({ apiKey: standInApiKey, pace: 'instant' });
    try {
      const client = await realtimeClient(standIn);
      const expiresAt = (client.ofType('session.created')[0]?.session as { expires_at?: number } | undefined)?.expires_at ?? 0;
      expect(expiresAt - Date.now() / 1000).toBeGreaterThan(3_590);
      expect(expiresAt - Date.now() / 1000).toBeLessThanOrEqual(3_600);

      const closed = new Promise<number>((resolve) => client.socket.once('close', (code) => resolve(code)));
      client.session.expire();
      expect((await client.next('error')).error).toMatchObject({ code: 'session_expired', message: 'Your session hit the maximum duration of 60 minutes.' });
      expect(await closed).toBe(1001);
    } finally {
      await standIn.close();
    }
  });
});

describe('OpenAI Realtime stand-in: models', () => {
  let standIn: OpenAIRealtimeStandIn;
  beforeAll(async () => {
    standIn = await startOpenAIRealtimeStandIn({ apiKey: standInApiKey, pace: 'instant' });
  });
  afterAll(() => standIn.close());

  it('knows the models Callwatch uses by default', () => {
    const { realtimeModel, inputTranscribeModel, transcribeModel } = loadConfig({}, { persistDevSecrets: false }).openai;
    expect(REALTIME_MODELS).toContain(realtimeModel);
    expect(TRANSCRIPTION_MODELS).toEqual(expect.arrayContaining([inputTranscribeModel, transcribeModel]));
  });

  it('refuses a connection for a model it does not know at the upgrade, as OpenAI does', async () => {
    const refusedBefore = standIn.refused.length;
    expect(await refusedUpgrade(`${standIn.url}?model=gpt-realtime-9`)).toEqual({
      status: 404,
      body: { error: { type: 'invalid_request_error', code: 'model_not_found', param: null, message: 'The model `gpt-realtime-9` does not exist or you do not have access to it.' } },
    });
    expect(standIn.refused.slice(refusedBefore)).toEqual([{ model: 'gpt-realtime-9', how: 'upgrade' }]);
    const client = await realtimeClient(standIn, { model: 'gpt-realtime-1.5' });
    expect(client.session.model).toBe('gpt-realtime-1.5');
    await client.close();
  });

  it('refuses a model retired by the `models` option, and still refuses a known one with refuseModel', async () => {
    const narrow = await startOpenAIRealtimeStandIn({ apiKey: standInApiKey, pace: 'instant', models: ['gpt-realtime-1.5'] });
    try {
      expect((await refusedUpgrade(`${narrow.url}?model=gpt-realtime`)).body.error.code).toBe('model_not_found');
      narrow.refuseModel('gpt-realtime-1.5', 'upgrade');
      expect((await refusedUpgrade(`${narrow.url}?model=gpt-realtime-1.5`)).status).toBe(404);
      expect(narrow.refused).toEqual([
        { model: 'gpt-realtime', how: 'upgrade' },
        { model: 'gpt-realtime-1.5', how: 'upgrade' },
      ]);
      expect(narrow.sessions).toEqual([]);
    } finally {
      await narrow.close();
    }
  });
});

describe('OpenAI Realtime stand-in: server errors on an open session', () => {
  let standIn: OpenAIRealtimeStandIn;
  beforeAll(async () => {
    standIn = await startOpenAIRealtimeStandIn({ apiKey: standInApiKey, pace: 'instant' });
  });
  afterAll(() => standIn.close());

  it('keeps the session open after a server_error: the next response still plays', async () => {
    const client = await realtimeClient(standIn);
    client.session.script({ replies: [{ text: 'אני כאן' }] });
    client.session.sendError({ message: 'The server had an error while processing your request. Sorry about that!' });
    expect((await client.next('error')).error).toMatchObject({ type: 'server_error', code: null, param: null, event_id: null });

    client.send({ type: 'response.create' });
    expect((await client.next('response.done')).response).toMatchObject({ status: 'completed' });
    expect(client.socket.readyState).toBe(WebSocket.OPEN);
    await client.close();
  });
});
