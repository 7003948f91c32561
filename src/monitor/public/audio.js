/**
 * Listen-in for the browser: `callAudio` chunks (G.711 μ-law, 8 kHz, 20 ms, base64) are
 * decoded here, drive a level meter per side, and — while Listen is on — play through
 * Web Audio, both sides mixed, each on its own clock with a small jitter buffer.
 */

/** μ-law byte → linear sample in [-1, 1] (ITU-T G.711), computed once. */
const mulawTable = (() => {
  const table = new Float32Array(256);
  for (let byte = 0; byte < 256; byte++) {
    const u = ~byte & 0xff;
    const magnitude = ((((u & 0x0f) << 3) + 0x84) << ((u >> 4) & 0x07)) - 0x84;
    table[byte] = ((u & 0x80) !== 0 ? -magnitude : magnitude) / 32768;
  }
  return table;
})();

/**
 * @param {string} base64
 * @returns {Float32Array<ArrayBuffer>}
 */
export function decodeMulaw(base64) {
  const bytes = atob(base64);
  const samples = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) samples[i] = mulawTable[bytes.charCodeAt(i)] ?? 0;
  return samples;
}

/** @typedef {'CALLER' | 'AGENT'} Track */

const sampleRate = 8000;
/** How far ahead of "now" playback starts after a gap: absorbs network jitter. */
const jitterBufferSec = 0.12;

export class CallAudio {
  /** @type {AudioContext | undefined} */
  #context;
  /** @type {GainNode | undefined} */
  #output;
  /** @type {Record<Track, number>} Web Audio time at which the track's next chunk starts. */
  #playhead = { CALLER: 0, AGENT: 0 };
  /** @type {Record<Track, number>} */
  #lastSeq = { CALLER: -1, AGENT: -1 };
  /** @type {Record<Track, number>} Smoothed level per side, 0–1, for the meters. */
  levels = { CALLER: 0, AGENT: 0 };
  played = 0;
  lost = 0;

  get listening() {
    return this.#context !== undefined;
  }

  /**
   * Starts playback. Must run inside the click that asked for it: browsers only let a
   * page make sound after a user gesture.
   */
  async listen() {
    if (this.#context) return;
    const context = new AudioContext({ latencyHint: 'interactive' });
    const output = context.createGain();
    output.connect(context.destination);
    this.#context = context;
    this.#output = output;
    this.#playhead = { CALLER: 0, AGENT: 0 };
    await context.resume();
  }

  async stop() {
    const context = this.#context;
    this.#context = undefined;
    this.#output = undefined;
    await context?.close();
  }

  /**
   * One chunk of one side: counts chunks lost on the way (a gap in `seq`), updates that
   * side's level and, while listening, schedules it right after the side's previous chunk.
   *
   * @param {{ track: Track; seq: number; payload: string }} chunk
   */
  accept(chunk) {
    const last = this.#lastSeq[chunk.track];
    if (last >= 0 && chunk.seq > last + 1) this.lost += chunk.seq - last - 1;
    this.#lastSeq[chunk.track] = chunk.seq;

    const samples = decodeMulaw(chunk.payload);
    let energy = 0;
    for (const sample of samples) energy += sample * sample;
    // RMS on a log scale: speech sits in the upper half, line noise near zero.
    const rms = Math.sqrt(energy / Math.max(1, samples.length));
    const level = Math.max(0, Math.min(1, (20 * Math.log10(rms + 1e-6) + 60) / 60));
    this.levels[chunk.track] = Math.max(level, this.levels[chunk.track] * 0.85);

    if (!this.#context || !this.#output) return;
    const context = this.#context;
    const buffer = context.createBuffer(1, samples.length, sampleRate);
    buffer.copyToChannel(samples, 0);
    const source = context.createBufferSource();
    source.buffer = buffer;
    source.connect(this.#output);
    const earliest = context.currentTime + 0.02;
    const start = this.#playhead[chunk.track] < earliest ? context.currentTime + jitterBufferSec : this.#playhead[chunk.track];
    source.start(start);
    this.#playhead[chunk.track] = start + buffer.duration;
    this.played += 1;
  }

  /** Lets the meters fall back to silence between chunks (called once per animation frame). */
  decay() {
    this.levels.CALLER *= 0.92;
    this.levels.AGENT *= 0.92;
  }

  /** A new call: counters and meters start again. */
  reset() {
    this.#lastSeq = { CALLER: -1, AGENT: -1 };
    this.levels = { CALLER: 0, AGENT: 0 };
    this.played = 0;
    this.lost = 0;
  }
}
