import { describe, expect, it } from 'vitest';
import type { ResponseAudioDeltaEvent } from 'openai/resources/realtime/realtime';
import { Call } from '../../src/entities/call.entity.ts';
import { defaultMarkIntervalMs } from '../../src/realtime/session/playback-clock.ts';
import { fixtureText, loadFixture } from '../../src/sandbox/fixtures.ts';
import { tone } from '../../src/sandbox/mulaw.ts';
import { SimulatedCaller } from '../../src/sandbox/simulated-caller.ts';
import { answerCall, eventually, placeCall, useCallHarness, type CallHarness, type PlacedCall } from '../support/calls.ts';
import { twilioAccountSid } from '../support/twilio.ts';

const callerLine = fixtureText('caller-booking');
/** 24 words: six seconds of agent audio. */
const longGreeting = Array.from({ length: 24 }, (_, i) => `מילה${i}`).join(' ');

function callRow(harness: CallHarness, callSid: string) {
  return harness.app.services.orm.em.fork().findOneOrFail(Call, { callSid });
}

/** placeCall, on a line that delays what the caller hears by `playbackDelayMs`. */
async function placeCallOnLine(harness: CallHarness, callSid: string, playbackDelayMs: number): Promise<PlacedCall> {
  const before = harness.openai.sessions.length;
  const { token } = await answerCall(harness, callSid);
  const caller = await SimulatedCaller.connect(`${harness.app.url.replace('http', 'ws')}/twilio/media`, {
    callSid,
    accountSid: twilioAccountSid,
    customParameters: { token },
    playbackDelayMs,
  });
  await eventually(() => harness.openai.sessions.length, (n) => n > before, 'the OpenAI socket of the call');
  return { caller, session: harness.openai.sessions[before]!, callSid, token };
}

/** The `item_id` and `response_id` of the first agent audio the session sent. */
function firstAudio(session: PlacedCall['session']): { itemId: string; responseId: string } {
  const delta = session.sent.find((event): event is ResponseAudioDeltaEvent => event.type === 'response.output_audio.delta');
  if (!delta) throw new Error('no agent audio was sent');
  return { itemId: delta.item_id, responseId: delta.response_id };
}

describe('barge-in, as the caller hears it', () => {
  const harness = useCallHarness({}, { pace: 'realtime' });

  it('drops the late deltas of the interrupted response: nothing of it reaches the caller after the clear (D9: late deltas were forwarded after clear)', async () => {
    const { caller, session, callSid } = await placeCall(harness, 'CA00000000000000000000000000001601');
    session.script({ replies: [{ text: longGreeting }, { text: 'בשמחה' }], callerTranscripts: [callerLine] });
    caller.start();
    await session.waitForSent('response.output_audio.delta');
    await caller.silence(1_500, { pace: 'realtime' });
    const speaking = caller.play(loadFixture('caller-booking'), { pace: 'realtime' });

    const clear = await caller.waitFor((message) => message.event === 'clear', 5_000);
    const clearedAt = caller.events.indexOf(clear);
    // OpenAI keeps sending a few deltas of the response it cancelled on speech_started.
    const cancelled = firstAudio(session);
    const late = tone(100, { hz: 1_000 }).toString('base64');
    for (let i = 0; i < 3; i++) {
      session.send({ type: 'response.output_audio.delta', event_id: `event_late${i}`, response_id: cancelled.responseId, item_id: cancelled.itemId, output_index: 0, content_index: 0, delta: late } satisfies ResponseAudioDeltaEvent);
    }
    await speaking;
    await caller.silence(800, { pace: 'realtime' });
    // The answer to the caller's turn comes after the late deltas on the same socket: once its
    // first audio has reached the caller, anything they brought would have too.
    const stopped = await session.waitForSent('input_audio_buffer.speech_stopped', 5_000);
    const answered = await session.waitForSent('response.created', 5_000, { after: session.sent.indexOf(stopped) });
    const answerAudio = await session.waitForSent('response.output_audio.delta', 5_000, { after: session.sent.indexOf(answered) });
    await caller.waitFor((message) => message.event === 'media' && message.media.payload === answerAudio.delta, 5_000, { after: clearedAt });

    const heardAfterClear = caller.events.slice(clearedAt + 1).filter((message) => message.event === 'media' && message.media.payload === late);
    expect(heardAfterClear).toEqual([]);
    caller.stop();
    await caller.closed;
    const persisted = await eventually(() => callRow(harness, callSid), (row) => row.status === 'completed', 'the call row');
    expect(persisted.timeline.filter((event) => event.type === 'agent.interrupted')).toHaveLength(1);
  });

  it('truncates at what the caller heard on a slow line, not at what was sent (D9: heard time came from the send clock)', async () => {
    const { caller, session } = await placeCallOnLine(harness, 'CA00000000000000000000000000001602', 400);
    session.script({ replies: [{ text: longGreeting }], callerTranscripts: [callerLine] });
    caller.start();
    await session.waitForSent('response.output_audio.delta');
    await caller.silence(2_000, { pace: 'realtime' });
    await caller.play(loadFixture('caller-booking'), { pace: 'realtime' });

    await caller.waitFor((message) => message.event === 'clear', 5_000);
    const heardMs = caller.heardMs();
    const truncate = await session.waitForReceived('conversation.item.truncate', 5_000);
    expect(truncate.item_id).toBe(firstAudio(session).itemId);
    // From Twilio's marks: at most a mark interval short of what was heard, and not the
    // 400 ms more the send clock would claim.
    expect(truncate.audio_end_ms).toBeGreaterThan(1_000);
    expect(truncate.audio_end_ms).toBeLessThanOrEqual(heardMs + 100);
    expect(truncate.audio_end_ms).toBeGreaterThanOrEqual(heardMs - defaultMarkIntervalMs - 50);
    caller.stop();
    await caller.closed;
  });
});

describe('barge-in over queued answers', () => {
  // OpenAI streams faster than real time: whole answers wait in Twilio's buffer.
  const harness = useCallHarness({}, { pace: 'instant' });

  it('truncates every item not heard to the end — the one playing where it stopped, the one queued behind it at 0 (D9: only the newest item was truncated)', async () => {
    const { caller, session, callSid } = await placeCall(harness, 'CA00000000000000000000000000001603');
    const answer = 'בשמחה אני בודקת את היומן';
    session.script({ replies: [{ text: longGreeting }, { text: answer }], callerTranscripts: [callerLine] });
    caller.start();
    await session.waitForSent('response.done', 5_000);
    // A key press while the greeting plays: its answer is streamed at once, queued behind it.
    caller.pressKey('5');
    const keyAnswer = await session.waitForSent('response.done', 5_000, { after: session.sent.findIndex((event) => event.type === 'response.done') + 1 });
    await eventually(() => caller.heardMs(), (ms) => ms >= 1_000, 'a second of the greeting played');
    await caller.play(loadFixture('caller-booking'), { pace: 'realtime' });

    await caller.waitFor((message) => message.event === 'clear', 5_000);
    const greetingItem = firstAudio(session).itemId;
    const answerItem = keyAnswer.response.output?.[0]?.id;
    await eventually(() => session.truncations.length, (n) => n >= 2, 'both items truncated');
    const truncations = new Map(session.truncations.map((truncation) => [truncation.item_id, truncation.audio_end_ms]));
    expect(truncations.get(greetingItem)).toBeGreaterThan(800);
    expect(truncations.get(greetingItem)).toBeLessThan(6_000);
    expect(truncations.get(answerItem!)).toBe(0);

    caller.stop();
    await caller.closed;
    const persisted = await eventually(() => callRow(harness, callSid), (row) => row.status === 'completed', 'the call row');
    const interrupted = persisted.timeline.flatMap((event) => (event.type === 'agent.interrupted' ? [event.itemId] : []));
    expect(interrupted).toEqual([greetingItem, answerItem]);
    // The stored transcript keeps what was heard: part of the greeting, none of the answer.
    expect(persisted.transcriptTurns.map((turn) => turn.text).join(' ')).not.toContain('בודקת');
  });
});
