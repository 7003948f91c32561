import { describe, expect, it } from 'vitest';
import { Call } from '../../src/entities/call.entity.ts';
import { SILENCE_BYTE, tone } from '../../src/sandbox/mulaw.ts';
import type { ClientEventOf } from '../../src/sandbox/openai-realtime.client-events.ts';
import type { StandInSession } from '../../src/sandbox/openai-realtime.server.ts';
import { agentSettings, endedCall, eventually, placeCall, useCallHarness, type CallHarness, type PlacedCall } from '../support/calls.ts';

/**
 * What the phone line brings besides the caller's voice, end to end through real sockets:
 * audio Twilio never delivered (timestamps that jump) and keys the caller presses (DTMF).
 */

const greetingMs = 500;
let sequence = 900;
const nextSid = () => `CA${String(++sequence).padStart(32, '0')}`;

/** Places a call and lets a short greeting play; the agent answers anything after it with `reply`. */
async function greeted(harness: CallHarness, reply = 'כן?'): Promise<PlacedCall> {
  const placed = await placeCall(harness, nextSid());
  placed.session.script({ replies: [{ text: 'שלום' }, { text: reply }] });
  placed.caller.start();
  await eventually(() => placed.caller.heardMs(), (ms) => ms >= greetingMs, 'the greeting to play');
  // The greeting's response is over: whatever the call sends next is not refused as overlapping it.
  await placed.session.waitForSent('response.done');
  return placed;
}

async function hangUp(harness: CallHarness, placed: PlacedCall): Promise<Call> {
  await harness.twilioApi.hangUp(placed.callSid);
  return eventually(() => harness.app.services.orm.em.fork().findOneOrFail(Call, { callSid: placed.callSid }), (row) => row.endedAt !== null && row.endedAt !== undefined, 'the call row');
}

/** Every byte of caller audio the OpenAI session was given, in order. */
function appendedAudio(session: StandInSession): Buffer {
  return Buffer.concat(session.received.flatMap((event) => (event.type === 'input_audio_buffer.append' ? [Buffer.from(event.audio, 'base64')] : [])));
}

/** The text of a message item the call added (a system message's `input_text`). */
function itemText(event: ClientEventOf<'conversation.item.create'>): string {
  const item = event.item;
  if (item.type !== 'message') return '';
  return (item.content ?? []).map((part) => (typeof part.text === 'string' ? part.text : '')).join('');
}

/** The first message item the call added after `after` received events, and the index it came at. */
async function nextMessageItem(session: StandInSession, after: number): Promise<{ text: string; index: number }> {
  const event = await session.waitForReceived('conversation.item.create', 5_000, { after });
  return { text: itemText(event), index: session.received.indexOf(event) };
}

describe('audio Twilio never delivered', () => {
  const h = useCallHarness();

  it('reaches OpenAI as silence, so it hears the caller stop when the line drops their audio (B8: a timestamp gap went unnoticed)', async () => {
    const call = await greeted(h);
    const gapsBefore = h.app.services.metrics.get('media_gap_filled_total');
    // The caller talks; a second of their audio is lost on the way (the next frame's
    // timestamp is a second late); then they talk on.
    await call.caller.play(tone(1000), { pace: 'instant' });
    await call.caller.skip(1000, { pace: 'instant' });
    await call.caller.play(tone(200), { pace: 'instant' });

    await eventually(() => call.session.inputAudioMs, (ms) => ms >= 2200, 'the caller audio and the lost second', 5_000);
    const audio = appendedAudio(call.session);
    expect(audio.length).toBe(2200 * 8);
    expect(audio.subarray(0, 8000).equals(tone(1000))).toBe(true);
    expect(audio.subarray(8000, 16000).every((byte) => byte === SILENCE_BYTE)).toBe(true);
    expect(audio.subarray(16000).equals(tone(200))).toBe(true);
    // Server VAD heard the caller stop during the lost second, and the agent answered.
    await call.session.waitForSent('input_audio_buffer.speech_stopped');
    await call.session.waitForSent('response.created', 5_000, { after: call.session.sent.findIndex((event) => event.type === 'input_audio_buffer.speech_stopped') });
    expect(h.app.services.metrics.get('media_gap_filled_total') - gapsBefore).toBe(1);
    await hangUp(h, call);
  });
});

describe('keys the caller presses', () => {
  const h = useCallHarness();

  it('reach the agent as a message it answers, and the timeline (B10: DTMF was dropped)', async () => {
    const call = await greeted(h, 'בחרת 5');
    const before = call.session.received.length;
    call.caller.pressKey('5');
    const item = await nextMessageItem(call.session, before);
    expect(item.text).toMatch(/pressed .*5/);
    await call.session.waitForReceived('response.create', 5_000, { after: item.index + 1 });
    await eventually(() => call.session.responseRequests.length, (n) => n === 2, 'the agent to answer the key');
    const row = await hangUp(h, call);
    expect(row.timeline.find((event) => event.type === 'key.pressed')).toMatchObject({ digit: '5' });
  });

  it('treat 0 as any other key when the business has no transfer number', async () => {
    const call = await greeted(h);
    const before = call.session.received.length;
    call.caller.pressKey('0');
    const item = await nextMessageItem(call.session, before);
    expect(item.text).toMatch(/pressed .*0/);
    await call.session.waitForReceived('response.create', 5_000, { after: item.index + 1 });
    const row = await hangUp(h, call);
    expect(row.endReason).toBe('caller hung up');
    expect(h.twilioApi.requests.some((request) => request.method === 'POST' && request.path.endsWith(`/Calls/${call.callSid}.json`))).toBe(false);
  });

  it('transfer the caller to a person on 0 when the business has a transfer number (B10)', async () => {
    await agentSettings(h, { transferNumber: '+972529998877' });
    try {
      const call = await greeted(h);
      call.caller.pressKey('0');
      const update = await h.twilioApi.waitForRequest((request) => request.method === 'POST' && request.path.endsWith(`/Calls/${call.callSid}.json`));
      expect(update.params.Twiml).toMatch(/<Dial answerOnBridge="true">\+972529998877<\/Dial>/);
      const row = await endedCall(h, call.callSid);
      expect(row.endReason).toBe('transferred');
      const types = row.timeline.map((event) => event.type);
      expect(types.indexOf('key.pressed')).toBeLessThan(types.indexOf('call.transfer'));
      expect(row.timeline.find((event) => event.type === 'call.transfer')).toMatchObject({ to: '+972529998877', ok: true, reason: 'the caller pressed 0' });
    } finally {
      await agentSettings(h, {});
    }
  });
});
