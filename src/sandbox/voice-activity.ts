import { BYTES_PER_MS, rms } from './mulaw.ts';

/** Length of one VAD window: 20 ms, one Twilio frame. */
const WINDOW_MS = 20;
const WINDOW_BYTES = WINDOW_MS * BYTES_PER_MS;

/** Settings of the energy VAD, named as in OpenAI's `server_vad` turn detection. */
export interface VoiceActivityOptions {
  /** Silence that ends speech, in ms (`silence_duration_ms`, default 500). */
  silenceDurationMs?: number;
  /** Audio reported before the first voiced window, in ms (`prefix_padding_ms`, default 300). */
  prefixPaddingMs?: number;
  /** RMS (16-bit PCM units) above which a window counts as voiced; default 200. */
  rmsThreshold?: number;
}

/** What one append changed: at most one start and one stop, in stream order. */
export type VoiceActivityChange =
  | { kind: 'speech_started'; audioStartMs: number }
  | { kind: 'speech_stopped'; audioEndMs: number };

/**
 * Server-VAD semantics over μ-law audio, by energy: the first voiced 20 ms window starts
 * speech; `silenceDurationMs` of unvoiced windows after the last voiced one stops it.
 * Positions are milliseconds of audio written since the session began (8 bytes = 1 ms),
 * the timeline OpenAI's `audio_start_ms` / `audio_end_ms` use.
 *
 * Invariant: `positionMs` only grows; a partial window waits in `pending` until complete.
 */
export class VoiceActivityDetector {
  #silenceDurationMs: number;
  #prefixPaddingMs: number;
  #threshold: number;
  #pending = Buffer.alloc(0);
  #windowsSeen = 0;
  #speaking = false;
  #lastVoicedEndMs = 0;

  constructor(options: VoiceActivityOptions = {}) {
    this.#silenceDurationMs = options.silenceDurationMs ?? 500;
    this.#prefixPaddingMs = options.prefixPaddingMs ?? 300;
    this.#threshold = options.rmsThreshold ?? 200;
  }

  /** Milliseconds of audio analysed so far (whole windows only). */
  get positionMs(): number {
    return this.#windowsSeen * WINDOW_MS;
  }

  /** True between a start and its stop. */
  get speaking(): boolean {
    return this.#speaking;
  }

  /** Applies new settings from a `session.update`; the audio timeline continues. */
  configure(options: VoiceActivityOptions): void {
    if (options.silenceDurationMs !== undefined) this.#silenceDurationMs = options.silenceDurationMs;
    if (options.prefixPaddingMs !== undefined) this.#prefixPaddingMs = options.prefixPaddingMs;
    if (options.rmsThreshold !== undefined) this.#threshold = options.rmsThreshold;
  }

  /** Feeds audio; returns the speech starts and stops it caused, in order. */
  push(ulaw: Uint8Array): VoiceActivityChange[] {
    const changes: VoiceActivityChange[] = [];
    let audio = this.#pending.length > 0 ? Buffer.concat([this.#pending, ulaw]) : Buffer.from(ulaw);
    while (audio.length >= WINDOW_BYTES) {
      const change = this.#window(audio.subarray(0, WINDOW_BYTES));
      if (change) changes.push(change);
      audio = audio.subarray(WINDOW_BYTES);
    }
    this.#pending = Buffer.from(audio);
    return changes;
  }

  /** Forgets speech in progress (after `input_audio_buffer.clear` or a manual commit). */
  reset(): void {
    this.#speaking = false;
  }

  #window(window: Buffer): VoiceActivityChange | undefined {
    const startMs = this.positionMs;
    this.#windowsSeen++;
    const voiced = rms(window) > this.#threshold;
    if (voiced) {
      this.#lastVoicedEndMs = this.positionMs;
      if (!this.#speaking) {
        this.#speaking = true;
        return { kind: 'speech_started', audioStartMs: Math.max(0, startMs - this.#prefixPaddingMs) };
      }
      return undefined;
    }
    if (this.#speaking && this.positionMs - this.#lastVoicedEndMs >= this.#silenceDurationMs) {
      this.#speaking = false;
      return { kind: 'speech_stopped', audioEndMs: this.positionMs };
    }
    return undefined;
  }
}
