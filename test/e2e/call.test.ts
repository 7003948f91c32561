import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallEvent } from '../../src/core/events.ts';
import { openOrm } from '../../src/database.ts';
import { Call } from '../../src/entities/call.entity.ts';
import { fixtureText, loadFixture } from '../../src/sandbox/fixtures.ts';
import { answerCall, connectCaller, eventually, placeCall, startCallHarness, type CallHarness } from '../support/calls.ts';

const callerLine = fixtureText('caller-booking');
const agentReply = 'בשמחה. באיזו עיר את גרה?';

async function pipelineJobs(harness: CallHarness, callId: string): Promise<number> {
  const rows = await harness.app.services.orm.em
    .fork()
    .execute<{ n: number }[]>(`select count(*)::int as n from pgboss.job where name = 'call.process' and data->>'callId' = ?`, [callId]);
  return rows[0]?.n ?? 0;
}

function callRow(harness: CallHarness, callSid: string) {
  return harness.app.services.orm.em.fork().findOneOrFail(Call, { callSid });
}

describe('a call through the bridge', () => {
  let harness: CallHarness;

  beforeAll(async () => {
    harness = await startCallHarness();
  });
  afterAll(async () => {
    await harness?.stop();
  });

  it('greets Sarah by name in the feminine form, relays audio both ways untouched and persists the call', async () => {
    const { caller, callSid, session } = await placeCall(harness, 'CA00000000000000000000000000000101');
    const events: CallEvent[] = [];
    const call = await callRow(harness, callSid);
    const subscription = harness.app.services.bus.subscribe('call:events', call.id);
    const collecting = (async () => {
      for await (const event of subscription) events.push(event);
    })();

    session.script({ replies: [{ text: fixtureText('agent-greeting'), audio: loadFixture('agent-greeting') }, { text: agentReply }], callerTranscripts: [callerLine] });
    const statementsAtStart = harness.statements.length;
    caller.start();

    const update = await session.waitForReceived('session.update');
    expect(update.session).toMatchObject({
      type: 'realtime',
      audio: { input: { format: { type: 'audio/pcmu' }, turn_detection: { type: 'server_vad' } }, output: { format: { type: 'audio/pcmu' } } },
    });
    const instructions = (update.session as { instructions?: string }).instructions ?? '';
    expect(instructions).toContain('ד״ר שרה לוי');
    expect(instructions).toContain('feminine');
    const greet = await session.waitForReceived('response.create');
    expect(JSON.stringify(greet)).toContain('שלום שרה, ברוכה הבאה לשיפוצי הגליל');

    // The greeting's audio reaches the caller byte for byte.
    const greeting = loadFixture('agent-greeting');
    await eventually(() => caller.receivedAudio().length, (bytes) => bytes >= greeting.length, 'the greeting audio');
    expect(caller.receivedAudio().subarray(0, greeting.length).equals(greeting)).toBe(true);

    // Sarah lets the greeting play out (talking over it would cut the stored turn to what she heard).
    await eventually(() => caller.heardMs(), (ms) => ms >= greeting.length / 8, 'the greeting to play');

    // The caller speaks; every frame reaches OpenAI, which hears, transcribes and answers.
    const speech = loadFixture('caller-booking');
    await caller.play(speech, { pace: 'instant' });
    await caller.silence(800, { pace: 'instant' });
    const sentMs = caller.sent.filter((message) => message.event === 'media').length * 20;
    await eventually(() => session.inputAudioMs, (ms) => ms === sentMs, 'all caller audio at OpenAI');
    await session.waitForSent('conversation.item.input_audio_transcription.completed');
    await eventually(() => session.sent.filter((event) => event.type === 'response.done').length, (n) => n === 2, 'the agent reply');
    await eventually(() => events.some((event) => event.type === 'transcript.turn' && event.turn.text === agentReply), Boolean, 'the reply turn on the bus');

    // Nothing on the call path touched the database (the harness leaves out the heartbeat's
    // and the lost-call sweep's statements: their own timers, whatever the calls do).
    expect(harness.statements.slice(statementsAtStart)).toEqual([]);

    // The caller hangs up: Twilio stops the stream and closes it.
    await harness.twilioApi.hangUp(callSid);
    const persisted = await eventually(() => callRow(harness, callSid), (row) => row.status === 'completed', 'the call row to be written');
    expect(persisted.transcriptTurns.map(({ speaker, text }) => ({ speaker, text }))).toEqual([
      { speaker: 'agent', text: fixtureText('agent-greeting') },
      { speaker: 'caller', text: callerLine },
      { speaker: 'agent', text: agentReply },
    ]);
    expect(persisted.startedAt).toBeInstanceOf(Date);
    expect(persisted.endedAt!.getTime()).toBeGreaterThanOrEqual(persisted.startedAt!.getTime());
    expect(persisted.durationSec).toBeGreaterThanOrEqual(0);
    expect(await pipelineJobs(harness, persisted.id)).toBe(1);

    await eventually(() => events.map((event) => event.type), (types) => types.includes('call.ended'), 'call.ended on the bus');
    await subscription.return();
    await collecting;
    expect(events.map((event) => event.type)).toEqual(
      expect.arrayContaining(['call.started', 'transcript.delta', 'transcript.turn', 'speech.started', 'speech.stopped', 'call.ended']),
    );
    expect(events.at(-1)).toMatchObject({ type: 'call.ended', callSid, reason: 'caller hung up', status: 'completed' });
  });

  it('greets a caller it does not know without a name, in the default (masculine) form, and records them as a lead', async () => {
    const { caller, session, callSid } = await placeCall(harness, 'CA00000000000000000000000000000104', '054-999-8877');
    caller.start();
    const greet = await session.waitForReceived('response.create');
    expect(JSON.stringify(greet)).toContain('שלום, ברוך הבא לשיפוצי הגליל');
    const update = await session.waitForReceived('session.update');
    expect((update.session as { instructions?: string }).instructions).toContain('ask for their name');
    caller.stop();
    await caller.closed;
    const row = await harness.app.services.orm.em.fork().findOneOrFail(Call, { callSid }, { populate: ['lead'] });
    expect(row.lead).toMatchObject({ phone: '+972549998877', fullName: null });
  });

  it('writes the call and enqueues the pipeline once when both sockets close together', async () => {
    const { caller, callSid, session } = await placeCall(harness, 'CA00000000000000000000000000000102');
    caller.start();
    await session.waitForReceived('response.create');
    caller.stop();
    session.drop();
    await caller.closed;
    const persisted = await eventually(() => callRow(harness, callSid), (row) => row.status === 'completed', 'the call row');
    // Every end of a call shares its first (CallEnding): once that has run and the session is
    // gone from active_calls, a racing second end can only return it, never write again.
    await eventually(async () => /^callwatch_active_calls 0$/m.test(await harness.app.services.metrics.render()), Boolean, 'the call session to finish ending');
    expect(await pipelineJobs(harness, persisted.id)).toBe(1);
  });

  it('hands caller audio sent before OpenAI is ready to OpenAI, all of it, in order', async () => {
    // OpenAI is slow to accept the socket: every frame the caller sends arrives before it is up.
    const release = harness.openai.holdConnections();
    const callSid = 'CA00000000000000000000000000000103';
    const { token } = await answerCall(harness, callSid);
    const sessionsBefore = harness.openai.sessions.length;
    const caller = await connectCaller(harness, callSid, token);
    caller.start();
    const speech = loadFixture('caller-booking');
    const frames = Math.ceil(speech.length / 160);
    const bufferedBefore = harness.app.services.metrics.get('media_buffered_frames_total');
    await caller.play(speech, { pace: 'instant' });
    await eventually(() => harness.app.services.metrics.get('media_buffered_frames_total') - bufferedBefore, (n) => n === frames, 'every frame buffered');
    expect(harness.openai.sessions.length).toBe(sessionsBefore);

    release();
    await eventually(() => harness.openai.sessions.length, (n) => n > sessionsBefore, 'the OpenAI socket');
    const session = harness.openai.sessions[sessionsBefore]!;
    await eventually(() => session.inputAudioMs, (ms) => ms === frames * 20, 'every early frame at OpenAI');
    const appended = session.received.flatMap((event) => (event.type === 'input_audio_buffer.append' ? [Buffer.from(event.audio, 'base64')] : []));
    const padded = Buffer.alloc(frames * 160, 0xff);
    speech.copy(padded);
    expect(Buffer.concat(appended).equals(padded)).toBe(true);
    // Configuration comes first, audio after it.
    const order = session.received.map((event) => event.type);
    expect(order.indexOf('session.update')).toBeLessThan(order.indexOf('input_audio_buffer.append'));
    caller.stop();
    await caller.closed;
  });
});

describe('a call with recording on', () => {
  let harness: CallHarness;

  beforeAll(async () => {
    harness = await startCallHarness({ recordCalls: true });
  });
  afterAll(async () => {
    await harness?.stop();
  });

  it('starts Twilio\'s recording once the stream is up and leaves the pipeline to the recording callback', async () => {
    const { caller, callSid, session } = await placeCall(harness, 'CA00000000000000000000000000000201');
    caller.start();
    const request = await harness.twilioApi.waitForRequest((r) => r.path.endsWith(`/Calls/${callSid}/Recordings.json`));
    expect(request).toMatchObject({
      method: 'POST',
      status: 201,
      params: { RecordingStatusCallback: 'https://callwatch.test/twilio/recording', RecordingChannels: 'dual' },
    });
    caller.stop();
    await caller.closed;
    const persisted = await eventually(() => callRow(harness, callSid), (row) => row.status === 'completed', 'the call row');
    expect(await pipelineJobs(harness, persisted.id)).toBe(0);
  });
});

describe('barge-in', () => {
  let harness: CallHarness;

  beforeAll(async () => {
    harness = await startCallHarness({ pace: 'realtime' });
  });
  afterAll(async () => {
    await harness?.stop();
  });

  it('clears Twilio\'s audio and truncates the agent\'s item where the caller stopped hearing it', async () => {
    const { caller, callSid, session } = await placeCall(harness, 'CA00000000000000000000000000000301');
    // A long greeting: 24 words, six seconds of audio streamed in real time.
    session.script({ replies: [{ text: Array.from({ length: 24 }, (_, i) => `מילה${i}`).join(' ') }], callerTranscripts: [callerLine] });
    caller.start();
    await session.waitForSent('response.output_audio.delta');
    await caller.silence(1_500, { pace: 'realtime' });
    await caller.play(loadFixture('caller-booking'), { pace: 'realtime' });

    await caller.waitFor((message) => message.event === 'clear', 5_000);
    const truncate = await session.waitForReceived('conversation.item.truncate', 5_000);
    const delta = session.sent.find((event) => event.type === 'response.output_audio.delta');
    expect(truncate.item_id).toBe(delta && 'item_id' in delta ? delta.item_id : undefined);
    // Heard: about the 1.5 s of silence plus the VAD's reaction time, and far less than 6 s.
    expect(truncate.audio_end_ms).toBeGreaterThan(1_000);
    expect(truncate.audio_end_ms).toBeLessThan(4_500);

    caller.stop();
    await caller.closed;
    const persisted = await eventually(() => callRow(harness, callSid), (row) => row.status === 'completed', 'the call row');
    expect(persisted.transcriptTurns[0]).toMatchObject({ speaker: 'agent', interrupted: true });
    // The stored turn is what the caller heard: the first words, in proportion to the audio played.
    const words = persisted.transcriptTurns[0]!.text.split(' ');
    const heardShare = truncate.audio_end_ms / 6000;
    expect(words.every((word, index) => word === `מילה${index}`)).toBe(true);
    expect(words.length).toBeGreaterThanOrEqual(Math.floor(24 * heardShare) - 2);
    expect(words.length).toBeLessThanOrEqual(Math.ceil(24 * heardShare) + 1);
    expect(persisted.timeline.map((event) => event.type)).toEqual(['call.started', 'agent.interrupted', 'call.ended']);
  });
});

describe('shutting down during a call', () => {
  it('stops taking new streams, ends the live call, writes it down, then closes', async () => {
    const harness = await startCallHarness();
    try {
      const { caller, session, callSid } = await placeCall(harness, 'CA00000000000000000000000000000501');
      caller.start();
      await session.waitForReceived('response.create');

      // SHUTDOWN_TIMEOUT_MS is 2 s in tests: the call gets that long to end by itself.
      await harness.app.close();

      expect((await caller.closed).code).toBe(1000);
      await session.closed;
      // Callwatch's ORM is closed by now; read what it wrote through a fresh one.
      const orm = await openOrm(harness.app.database.url);
      try {
        const row = await orm.em.fork().findOneOrFail(Call, { callSid });
        expect(row.status).toBe('completed');
        expect(row.transcriptTurns.length).toBeGreaterThan(0);
      } finally {
        await orm.close();
      }
    } finally {
      await harness.stop();
    }
  });
});
