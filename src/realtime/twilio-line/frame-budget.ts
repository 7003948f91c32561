import { frameMs } from './inbound-audio-gaps.ts';

/**
 * How many inbound `media` frames one stream may send. Twilio sends one 20 ms frame every
 * 20 ms — 50 a second — and every frame relayed is billable OpenAI audio input: a socket
 * sending far more is not Twilio (a probe relayed 35,000 frames a second, an hour of audio
 * in five seconds). A token bucket, refilled at Twilio's rate, timed by when frames
 * arrive: their `timestamp` is the sender's to choose.
 */

/** Twilio's rate: one frame per 20 ms. */
export const framesPerSecond = 1000 / frameMs;

/**
 * What may arrive at once beyond the steady rate: 10 s of audio (500 frames). After a
 * hiccup on the way — a lost TCP segment waits for retransmission, 1 s, then 2 s, then
 * 4 s more (RFC 6298's initial timeout, doubled each time) — Twilio's queued frames arrive
 * together, on time by their timestamps (inbound-audio-gaps.ts fills only audio that never
 * comes). 10 s covers three lost retransmissions in a row. Hanging up on a real caller
 * costs far more than the most a flood can now cost: 10 s of audio, then 50 frames a second
 * until the socket is closed — a fraction of a second.
 */
export const burstFrames = 10 * framesPerSecond;

/**
 * A token bucket of `burstFrames` frames, refilled at `framesPerSecond`. Cheap enough for
 * every frame: arithmetic on two numbers, no allocation.
 *
 * Invariant: 0 ≤ `#tokens` ≤ `#burst`; `#refilledAt` never goes back.
 */
export class FrameBudget {
  readonly #perMs: number;
  readonly #burst: number;
  #tokens: number;
  #refilledAt: number;

  /** `now`: when the stream started, in `performance.now()` ms. */
  constructor(now: number, options: { perSecond?: number; burst?: number } = {}) {
    this.#perMs = (options.perSecond ?? framesPerSecond) / 1000;
    this.#burst = options.burst ?? burstFrames;
    this.#tokens = this.#burst;
    this.#refilledAt = now;
  }

  /** A frame arrived at `now` (`performance.now()` ms): false when the stream is over its budget. */
  take(now: number): boolean {
    if (now > this.#refilledAt) {
      this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#refilledAt) * this.#perMs);
      this.#refilledAt = now;
    }
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
