import { performance } from 'node:perf_hooks';
import { BYTES_PER_MS } from './mulaw.ts';

/** 'realtime': audio plays at 8 bytes per ms; 'instant': audio has played as soon as it arrives. */
export type PlaybackPace = 'realtime' | 'instant';

/**
 * How long after it reaches Twilio the caller hears a piece of audio, at 'realtime' pace:
 * the network to the phone and its jitter buffer. A mobile call's one-way mouth-to-ear
 * delay is 100–300 ms; 120 ms is a good line's.
 */
export const DEFAULT_PLAYBACK_DELAY_MS = 120;

/**
 * The caller's phone speaker, as Twilio models it for marks: audio the server sends is
 * queued and plays back to back at 8 kHz, `delayMs` after it arrived at the earliest (the
 * line's delay; a queue already playing plays on without a new gap); a mark is returned
 * once everything queued before it has been heard — at once when nothing is queued;
 * `clear` drops the audio not yet heard and returns every pending mark at once.
 *
 * Invariants: marks are returned in the order they were sent, each exactly once;
 * `#playheadEndsAt` is never before a played segment's end; after `close()` no timer is left.
 */
export class PlaybackQueue {
  #pace: PlaybackPace;
  #delayMs: number;
  #onMarkPlayed: (name: string) => void;
  /** When everything queued so far will have played (performance.now() ms). */
  #playheadEndsAt = 0;
  #segments: { startsAt: number; endsAt: number; bytes: number }[] = [];
  #pendingMarks: { name: string; playsAt: number }[] = [];
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  /** `delayMs`: the line's delay at 'realtime' pace (default DEFAULT_PLAYBACK_DELAY_MS); none at 'instant'. */
  constructor(options: { pace: PlaybackPace; delayMs?: number; onMarkPlayed: (name: string) => void }) {
    this.#pace = options.pace;
    this.#delayMs = options.pace === 'instant' ? 0 : (options.delayMs ?? DEFAULT_PLAYBACK_DELAY_MS);
    this.#onMarkPlayed = options.onMarkPlayed;
  }

  /** Queues audio behind what is already playing. */
  enqueueAudio(bytes: number): void {
    if (this.#closed || bytes === 0) return;
    if (this.#pace === 'instant') {
      // Played before anyone can look: a segment at time 0 counts as played whole.
      this.#segments.push({ startsAt: 0, endsAt: 0, bytes });
      return;
    }
    const now = performance.now();
    const startsAt = Math.max(now + this.#delayMs, this.#playheadEndsAt);
    this.#playheadEndsAt = startsAt + bytes / BYTES_PER_MS;
    this.#segments.push({ startsAt, endsAt: this.#playheadEndsAt, bytes });
  }

  /** Queues a mark; it is returned when the audio queued before it has played. */
  enqueueMark(name: string): void {
    if (this.#closed) return;
    this.#pendingMarks.push({ name, playsAt: this.#pace === 'instant' ? 0 : this.#playheadEndsAt });
    this.#returnPlayedMarks();
  }

  /** Drops the audio not yet played and returns every pending mark, in order. */
  clear(): void {
    if (this.#closed) return;
    const now = performance.now();
    this.#segments = this.#segments
      .filter((segment) => segment.startsAt < now)
      .map((segment) => (segment.endsAt <= now ? segment : { startsAt: segment.startsAt, endsAt: now, bytes: Math.round((now - segment.startsAt) * BYTES_PER_MS) }));
    this.#playheadEndsAt = now;
    for (const mark of this.#pendingMarks) mark.playsAt = 0;
    this.#returnPlayedMarks();
  }

  /** Bytes of audio played so far (cleared audio never plays). */
  playedBytes(): number {
    const now = performance.now();
    let played = 0;
    for (const segment of this.#segments) {
      if (segment.startsAt >= now) continue;
      const duration = segment.endsAt - segment.startsAt;
      played += duration <= 0 || segment.endsAt <= now ? segment.bytes : Math.round(((now - segment.startsAt) / duration) * segment.bytes);
    }
    return played;
  }

  /** Stops the clock: pending marks are never returned. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pendingMarks = [];
  }

  #returnPlayedMarks(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const now = performance.now();
    while (!this.#closed && this.#pendingMarks.length > 0 && (this.#pendingMarks[0]?.playsAt ?? 0) <= now) {
      const mark = this.#pendingMarks.shift();
      if (mark) this.#onMarkPlayed(mark.name);
    }
    const next = this.#pendingMarks[0];
    if (!this.#closed && next) this.#timer = setTimeout(() => this.#returnPlayedMarks(), Math.max(1, Math.ceil(next.playsAt - now)));
  }
}
