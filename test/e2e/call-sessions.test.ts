import { describe, expect, it } from 'vitest';
import { loadFixture } from '../../src/sandbox/fixtures.ts';
import { endedCall, eventually, placeCall, useCallHarness } from '../support/calls.ts';

/**
 * One call, several OpenAI sessions: OpenAI ends a Realtime session at 60 minutes, so a
 * long call moves to a new session before that, at a quiet moment, or after an expiry it
 * could not prevent — the conversation restored as items, the caller none the wiser. And the
 * caller's transcripts, which come asynchronously and can fail, keep every turn in order.
 */

let sequence = 1900;
const nextSid = () => `CA${String(++sequence).padStart(32, '0')}`;

/** Everything the agent said so far has played: its last message was a mark, and every mark came back. */
const playedOut = (caller: Awaited<ReturnType<typeof placeCall>>['caller']) =>
  eventually(
    () => ({ last: caller.events.at(-1)?.event, marks: caller.events.filter((message) => message.event === 'mark').length, returned: caller.returnedMarks().length }),
    ({ last, marks, returned }) => last === 'mark' && marks === returned,
    'the agent’s audio to play out',
  );

const responsesDone = (session: { sent: readonly { type: string }[] }) => session.sent.filter((event) => event.type === 'response.done').length;

describe('a session rolled over before the cap', () => {
  const h = useCallHarness({}, { env: { OPENAI_SESSION_MAX_SEC: '2' } });

  it('moves the call to a new session at a quiet moment: the conversation as items, no apology, no caller audio lost (regression: the call ran into OpenAI’s cap)', async () => {
    const { caller, session, callSid } = await placeCall(h, nextSid());
    session.script({ replies: [{ text: 'שלום שרה' }, { text: 'בשמחה' }], callerTranscripts: ['אני רוצה תור'] });
    const rolloversBefore = h.app.services.metrics.get('realtime_session_rollovers_total');
    caller.start();
    await eventually(() => responsesDone(session), (n) => n === 1, 'the greeting');
    await playedOut(caller);
    // The caller's transcript comes late, after the session is due for its rollover: the
    // rollover waits for it (it comes on this session), so the next session has the words.
    session.delayTranscription(2_500);
    await caller.play(loadFixture('caller-booking'), { pace: 'instant' });
    await caller.silence(800, { pace: 'instant' });
    await eventually(() => responsesDone(session), (n) => n === 2, 'the answer');
    const sessionsBefore = h.openai.sessions.length;

    // Two seconds into the session, once all is quiet, the next one comes up beside it.
    await eventually(() => h.openai.sessions.length, (n) => n > sessionsBefore, 'the next session', 10_000);
    const next = h.openai.sessions[sessionsBefore]!;
    next.script({ replies: [{ text: 'מה עוד?' }], callerTranscripts: ['ועוד משהו'] });
    await session.closed;
    const update = await next.waitForReceived('session.update');
    expect(update.session).toMatchObject({ audio: { input: { format: { type: 'audio/pcmu' } }, output: { format: { type: 'audio/pcmu' } } } });
    const restored = next.received.filter((event) => event.type === 'conversation.item.create').map((event) => event.item);
    expect(restored).toEqual([
      expect.objectContaining({ role: 'system' }),
      { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'שלום שרה' }] },
      { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'אני רוצה תור' }] },
      { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'בשמחה' }] },
    ]);
    // No apology: nothing asks the new session to speak; the caller does.
    expect(next.responseRequests).toEqual([]);
    const heardBefore = caller.heardMs();
    await caller.play(loadFixture('caller-booking'), { pace: 'instant' });
    await caller.silence(800, { pace: 'instant' });
    await eventually(() => caller.heardMs(), (ms) => ms > heardBefore, 'the new session’s answer');
    caller.stop();
    await caller.closed;

    // Every frame the caller sent reached one session or the other.
    const sentMs = caller.sent.filter((message) => message.event === 'media').length * 20;
    expect(h.openai.sessions.slice(sessionsBefore - 1).reduce((ms, s) => ms + s.inputAudioMs, 0)).toBeGreaterThanOrEqual(sentMs);
    const row = await endedCall(h, callSid);
    expect(row.status).toBe('completed');
    expect(row.timeline.filter((event) => event.type === 'agent.failure')).toEqual([]);
    expect(row.transcriptTurns.map((turn) => turn.text)).toEqual(['שלום שרה', 'אני רוצה תור', 'בשמחה', 'ועוד משהו', 'מה עוד?']);
    expect(h.app.services.metrics.get('realtime_session_rollovers_total')).toBeGreaterThan(rolloversBefore);
  });
});

describe('a rollover the next session refuses', () => {
  const h = useCallHarness({}, { env: { OPENAI_SESSION_MAX_SEC: '1' } });

  it('leaves the call on its current session, which goes on answering; nothing is failed', async () => {
    const { caller, session, callSid } = await placeCall(h, nextSid());
    session.script({ replies: [{ text: 'שלום שרה' }, { text: 'בשמחה' }], callerTranscripts: ['אני רוצה תור'] });
    caller.start();
    await eventually(() => responsesDone(session), (n) => n === 1, 'the greeting');
    await playedOut(caller);
    // From now on OpenAI refuses this call's configuration: the next session cannot take the call.
    const sessionsBefore = h.openai.sessions.length;
    h.openai.rejectTranscriptionModel('gpt-live-transcribe');
    await eventually(() => h.openai.sessions.length, (n) => n > sessionsBefore, 'the next session', 10_000);
    const next = h.openai.sessions[sessionsBefore]!;
    await next.waitForSent('error');
    await next.closed;

    await caller.play(loadFixture('caller-booking'), { pace: 'instant' });
    await caller.silence(800, { pace: 'instant' });
    await eventually(() => responsesDone(session), (n) => n === 2, 'the answer, on the session that carries the call');
    expect(next.received.map((event) => event.type)).toEqual(['session.update']);
    caller.stop();
    await caller.closed;
    const row = await endedCall(h, callSid);
    expect(row.status).toBe('completed');
    expect(row.timeline.filter((event) => event.type === 'agent.failure')).toEqual([]);
  });
});

describe('a session OpenAI expires', () => {
  const h = useCallHarness();

  it('is restored on a new one the same way: items, no apology, not a failure (regression: an expiry was a lost agent with an apology)', async () => {
    const { caller, session, callSid } = await placeCall(h, nextSid());
    session.script({ replies: [{ text: 'שלום שרה' }] });
    caller.start();
    await eventually(() => responsesDone(session), (n) => n === 1, 'the greeting');
    await eventually(() => caller.heardMs(), (ms) => ms >= 400, 'the greeting played');
    const sessionsBefore = h.openai.sessions.length;
    session.expire();
    await eventually(() => h.openai.sessions.length, (n) => n > sessionsBefore, 'the new session');
    const next = h.openai.sessions[sessionsBefore]!;
    next.script({ replies: [{ text: 'בשמחה' }], callerTranscripts: ['אני רוצה תור'] });
    await next.waitForReceived('session.update');
    await eventually(() => next.received.filter((event) => event.type === 'conversation.item.create').length, (n) => n >= 2, 'the restored conversation');
    expect(next.received).toContainEqual({ type: 'conversation.item.create', item: { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'שלום שרה' }] } });
    await caller.play(loadFixture('caller-booking'), { pace: 'instant' });
    await caller.silence(800, { pace: 'instant' });
    await eventually(() => responsesDone(next), (n) => n === 1, 'the answer on the new session');
    expect(next.responseRequests).toEqual([]);
    caller.stop();
    await caller.closed;
    const row = await endedCall(h, callSid);
    expect(row.status).toBe('completed');
    expect(row.timeline.filter((event) => event.type === 'agent.failure')).toEqual([]);
  });
});

describe('caller transcripts', () => {
  const h = useCallHarness();

  it('keep a turn whose transcription failed, as inaudible (regression: the turn was dropped from the transcript)', async () => {
    const { caller, session, callSid } = await placeCall(h, nextSid());
    session.script({ replies: [{ text: 'שלום שרה' }, { text: 'סליחה, לא שמעתי' }] });
    session.failNextTranscription();
    const failedBefore = h.app.services.metrics.get('openai_transcription_failed_total');
    caller.start();
    await eventually(() => responsesDone(session), (n) => n === 1, 'the greeting');
    await playedOut(caller);
    await caller.play(loadFixture('caller-booking'), { pace: 'instant' });
    await caller.silence(800, { pace: 'instant' });
    await session.waitForSent('conversation.item.input_audio_transcription.failed');
    await eventually(() => responsesDone(session), (n) => n === 2, 'the answer');
    caller.stop();
    await caller.closed;
    const row = await endedCall(h, callSid);
    expect(row.transcriptTurns.map((turn) => [turn.speaker, turn.text, turn.inaudible ?? false])).toEqual([
      ['agent', 'שלום שרה', false],
      ['caller', '[inaudible]', true],
      ['agent', 'סליחה, לא שמעתי', false],
    ]);
    expect(h.app.services.metrics.get('openai_transcription_failed_total')).toBe(failedBefore + 1);
  });

  it('stay in the order they were spoken when they arrive after the answer', async () => {
    const { caller, session, callSid } = await placeCall(h, nextSid());
    session.script({ replies: [{ text: 'שלום שרה' }, { text: 'בשמחה' }], callerTranscripts: ['אני רוצה תור'] });
    session.delayTranscription(1_500);
    caller.start();
    await eventually(() => responsesDone(session), (n) => n === 1, 'the greeting');
    await playedOut(caller);
    await caller.play(loadFixture('caller-booking'), { pace: 'instant' });
    await caller.silence(800, { pace: 'instant' });
    await eventually(() => responsesDone(session), (n) => n === 2, 'the answer');
    await session.waitForSent('conversation.item.input_audio_transcription.completed', 5_000);
    const completedAt = session.sent.findIndex((event) => event.type === 'conversation.item.input_audio_transcription.completed');
    expect(completedAt).toBeGreaterThan(session.sent.findLastIndex((event) => event.type === 'response.done'));
    caller.stop();
    await caller.closed;
    const row = await endedCall(h, callSid);
    expect(row.transcriptTurns.map((turn) => [turn.speaker, turn.text])).toEqual([
      ['agent', 'שלום שרה'],
      ['caller', 'אני רוצה תור'],
      ['agent', 'בשמחה'],
    ]);
  });
});
