import { appendAudioMessage } from '../session/openai-realtime.protocol.ts';

/**
 * Gaps in the caller's audio as Twilio delivers it. Each inbound `media` message carries a
 * `timestamp` (ms of the stream); when packets are lost on the way, Twilio sends no frames
 * for them and the next frame's timestamp jumps. OpenAI's server VAD only knows the audio
 * it is given, so a lost stretch would splice the words either side together: a caller
 * whose line dropped out mid-sentence never "stops talking". The bridge fills each gap with
 * μ-law silence before relaying the frame that follows it.
 */

/** One Twilio frame: 20 ms of 8 kHz μ-law, 160 bytes. */
export const frameMs = 20;
const bytesPerMs = 8;

/**
 * At most this much silence per gap: 1 s, twice server VAD's default `silence_duration_ms`
 * (500 ms, which the session does not change), so VAD always hears the caller stop. More
 * would tell it nothing new, and one absurd jump (a corrupt timestamp, a stream paused for
 * minutes) must not burst megabytes onto OpenAI's socket in one tick, or push the caller's
 * real audio out of the bounded buffer held while OpenAI reconnects.
 */
export const maxGapFrames = 1000 / frameMs;

/** 20 ms of μ-law silence (0xFF), base64: what a lost frame is replaced with. */
export const silenceFramePayload = Buffer.alloc(frameMs * bytesPerMs, 0xff).toString('base64');
/** The same frame as an `input_audio_buffer.append`, built once: a gap allocates nothing. */
export const silenceFrameAppend = appendAudioMessage(silenceFramePayload);

/**
 * Follows the timestamps of one stream's inbound frames and says how many frames of silence
 * stand for the audio lost before each. Cheap enough for every frame: arithmetic on the
 * timestamp and the payload's length, no decoding, no allocation.
 *
 * Invariant: `#expectedAt` (where the next frame should start) only grows, so a late or
 * repeated frame neither counts as a gap nor makes the next on-time frame look like one.
 */
export class InboundAudioGaps {
  /** The timestamp the next frame should carry; undefined before the first frame. */
  #expectedAt: number | undefined;

  /**
   * A frame arrived with `timestamp` and base64 `payload`: returns how many 20 ms frames of
   * silence to send before it (0 when nothing was lost; at most `maxGapFrames`). Jitter
   * under one frame is not a gap.
   */
  silenceBefore(timestamp: number, payload: string): number {
    const expectedAt = this.#expectedAt;
    const endsAt = timestamp + base64Bytes(payload) / bytesPerMs;
    if (expectedAt === undefined || endsAt > expectedAt) this.#expectedAt = endsAt;
    if (expectedAt === undefined) return 0;
    const missingMs = timestamp - expectedAt;
    return missingMs < frameMs ? 0 : Math.min(Math.floor(missingMs / frameMs), maxGapFrames);
  }
}

/** Decoded size of a base64 string, without decoding it. */
function base64Bytes(value: string): number {
  const length = value.length;
  const padding = value.charCodeAt(length - 1) === 61 ? (value.charCodeAt(length - 2) === 61 ? 2 : 1) : 0;
  return (length / 4) * 3 - padding;
}
