import { describe, expect, it } from 'vitest';
import { Call } from '../src/entities/call.entity.ts';
import { SILENCE_BYTE, tone } from '../src/sandbox/mulaw.ts';
import type { StandInSession } from '../src/sandbox/openai-realtime.server.ts';
import { eventually, placeCall, useCallHarness, type CallHarness, type PlacedCall } from './support/calls.ts';

/**
 * What the phone line brings besides the caller's voice, end to end through real sockets:
 * audio Twilio never delivered (timestamps that jump).
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
  placed.caller.stop();
  await placed.caller.closed;
  return eventually(() => harness.app.services.orm.em.fork().findOneOrFail(Call, { callSid: placed.callSid }), (row) => row.endedAt !== null && row.endedAt !== undefined, 'the call row');
}

/** Every byte of caller audio the OpenAI session was given, in order. */
function appendedAudio(session: StandInSession): Buffer {
  return Buffer.concat(session.received.flatMap((event) => (event.type === 'input_audio_buffer.append' ? [Buffer.from(event.audio, 'base64')] : [])));
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
