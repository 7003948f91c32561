import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { burstFrames, framesPerSecond } from '../../../src/realtime/twilio-line/frame-budget.ts';
import { FRAME_BYTES } from '../../../src/sandbox/simulated-caller.ts';
import { SILENCE_BYTE, tone } from '../../../src/sandbox/mulaw.ts';
import { endedCall, eventually, placeCall, useCallHarness, type CallHarness, type PlacedCall } from '../../support/calls.ts';

/**
 * Threat: a media socket with a valid token sends frames far faster than Twilio's 50 a
 * second, and every one is relayed to OpenAI as billable audio (security review F6:
 * 35,000 frames a second, an hour of audio in five seconds). Defence: a per-stream frame
 * budget (FrameBudget) — beyond it the stream is closed (1008) and the call ends.
 */

let sequence = 1800;
const nextSid = () => `CA${String(++sequence).padStart(32, '0')}`;

async function greeted(harness: CallHarness): Promise<PlacedCall> {
  const placed = await placeCall(harness, nextSid());
  placed.session.script({ replies: [{ text: 'שלום' }, { text: 'כן?' }, { text: 'בסדר' }, { text: 'טוב' }] });
  placed.caller.start();
  await placed.session.waitForSent('response.done');
  return placed;
}

function appends(call: PlacedCall): number {
  return call.session.received.filter((event) => event.type === 'input_audio_buffer.append').length;
}

describe('a media stream sending faster than Twilio', () => {
  const h = useCallHarness();

  it('is closed (1008) within its budget of frames, and the call is written with the reason', async () => {
    const call = await greeted(h);
    const before = h.app.services.metrics.get('media_rate_exceeded_total');
    const appendsBefore = appends(call);
    const floodStartedAt = performance.now();
    void call.caller.play(Buffer.alloc(5000 * FRAME_BYTES, SILENCE_BYTE), { pace: 'instant' });

    expect(await call.caller.closed).toEqual({ code: 1008, reason: 'media rate exceeded' });
    const floodSeconds = (performance.now() - floodStartedAt) / 1000;
    const row = await endedCall(h, call.callSid);
    expect(row.endReason).toBe('media rate exceeded');
    // No more than the burst and what refilled while the flood lasted reached OpenAI.
    expect(appends(call) - appendsBefore).toBeLessThanOrEqual(burstFrames + Math.ceil(floodSeconds * framesPerSecond));
    expect(h.app.services.metrics.get('media_rate_exceeded_total') - before).toBe(1);
  });
});

describe('a media stream at Twilio’s pace', () => {
  const h = useCallHarness();

  it('is untouched by the budget: real-time audio, a lost second, then queued audio in bursts', async () => {
    const call = await greeted(h);
    const before = h.app.services.metrics.get('media_rate_exceeded_total');
    const appendsBefore = appends(call);
    await call.caller.play(tone(1000));
    await call.caller.skip(1000);
    // After a hiccup, Twilio delivers what it queued at once: 1 s, and later 8 s (a stall through three lost retransmissions).
    await call.caller.play(tone(1000), { pace: 'instant' });
    await call.caller.play(tone(1000));
    await call.caller.play(tone(8000), { pace: 'instant' });

    // 11 s sent and the lost second filled with silence: 600 frames.
    await eventually(() => appends(call) - appendsBefore, (frames) => frames >= 600, 'every frame (and the lost second) relayed');
    await h.twilioApi.hangUp(call.callSid);
    const row = await endedCall(h, call.callSid);
    expect(row.endReason).not.toBe('media rate exceeded');
    expect(appends(call) - appendsBefore).toBe(600);
    expect(h.app.services.metrics.get('media_rate_exceeded_total') - before).toBe(0);
  });
});
