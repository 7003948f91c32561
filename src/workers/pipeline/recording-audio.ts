/**
 * A call recording as the transcription step cuts it: Twilio's WAV (RIFF, 16-bit linear
 * PCM, 8 kHz, one or two interleaved channels) read into one sample array per channel, the
 * spans in each channel where someone speaks (found by energy), and a span written back out
 * as a small mono WAV for one transcription request. Pure functions, no I/O.
 */

export interface PcmRecording {
  sampleRate: number;
  /** One array of samples per channel, de-interleaved. */
  channels: Int16Array[];
  durationSec: number;
}

/** A span of one channel, in samples. */
export interface AudioSpan {
  channel: number;
  start: number;
  end: number;
}

export interface SegmentationOptions {
  /** Silence at least this long ends a turn. */
  minSilenceSec: number;
  /** Speech shorter than this (clicks, breaths) is not a turn. */
  minSpeechSec: number;
  /** Audio kept before and after each turn, so first and last syllables are not clipped. */
  paddingSec: number;
  /** No span is longer: a longer monologue is cut at its quietest moment before this. */
  maxSpanSec: number;
}

export const DEFAULT_SEGMENTATION: SegmentationOptions = { minSilenceSec: 0.7, minSpeechSec: 0.25, paddingSec: 0.2, maxSpanSec: 600 };

const FRAME_SEC = 0.02;
/**
 * A frame is speech when its RMS is above this (about −46 dBFS) and well above the
 * channel's own noise floor. Telephone line noise after Twilio's μ-law decoding sits far
 * below it; quiet speech sits well above.
 */
const MIN_SPEECH_RMS = 160;
const NOISE_FLOOR_FACTOR = 4;
/**
 * The threshold never rises above this (about −30 dBFS), whatever the noise floor reads: in
 * a channel where one person talks nearly all the time, the "quiet" frames are speech.
 */
const MAX_SPEECH_THRESHOLD = 1000;

/**
 * Reads a 16-bit PCM WAV: the `fmt ` and `data` chunks wherever they are, the data size
 * clamped to the file (a streamed WAV may leave it unset). Null for anything else (another
 * container, another sample format), which the caller sends as it is.
 */
export function readPcmWav(file: Buffer): PcmRecording | null {
  if (file.length < 12 || file.toString('latin1', 0, 4) !== 'RIFF' || file.toString('latin1', 8, 12) !== 'WAVE') return null;
  let format: { tag: number; channels: number; sampleRate: number; bits: number } | null = null;
  for (let offset = 12; offset + 8 <= file.length; ) {
    const id = file.toString('latin1', offset, offset + 4);
    const size = file.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (id === 'fmt ' && body + 16 <= file.length) {
      format = { tag: file.readUInt16LE(body), channels: file.readUInt16LE(body + 2), sampleRate: file.readUInt32LE(body + 4), bits: file.readUInt16LE(body + 14) };
    }
    if (id === 'data') {
      // WAVE_FORMAT_EXTENSIBLE (0xFFFE) carries PCM too.
      if (!format || (format.tag !== 1 && format.tag !== 0xfffe) || format.bits !== 16 || format.channels < 1 || format.sampleRate <= 0) return null;
      const frameBytes = 2 * format.channels;
      const frames = Math.floor(Math.min(size, file.length - body) / frameBytes);
      const channels = Array.from({ length: format.channels }, () => new Int16Array(frames));
      for (let frame = 0; frame < frames; frame++) {
        for (let channel = 0; channel < format.channels; channel++) channels[channel]![frame] = file.readInt16LE(body + frame * frameBytes + channel * 2);
      }
      return { sampleRate: format.sampleRate, channels, durationSec: frames / format.sampleRate };
    }
    offset = body + size + (size % 2);
  }
  return null;
}

/**
 * Where someone speaks in one channel: frames of 20 ms above the speech level, joined
 * across pauses shorter than `minSilenceSec`, padded, and cut so no span is longer than
 * `maxSpanSec` (at the quietest frame of the span's last 30 s, else at the limit).
 */
export function speechSpans(samples: Int16Array, sampleRate: number, channel: number, options: SegmentationOptions = DEFAULT_SEGMENTATION): AudioSpan[] {
  const frameLength = Math.max(1, Math.round(sampleRate * FRAME_SEC));
  const frameCount = Math.ceil(samples.length / frameLength);
  const rms = new Float64Array(frameCount);
  for (let frame = 0; frame < frameCount; frame++) {
    const from = frame * frameLength;
    const to = Math.min(samples.length, from + frameLength);
    let sum = 0;
    for (let i = from; i < to; i++) sum += samples[i]! * samples[i]!;
    rms[frame] = Math.sqrt(sum / Math.max(1, to - from));
  }
  const threshold = Math.min(MAX_SPEECH_THRESHOLD, Math.max(MIN_SPEECH_RMS, noiseFloor(rms) * NOISE_FLOOR_FACTOR));

  const maxGapFrames = Math.round(options.minSilenceSec / FRAME_SEC);
  const runs: [number, number][] = [];
  for (let frame = 0; frame < frameCount; frame++) {
    if (rms[frame]! < threshold) continue;
    const last = runs.at(-1);
    if (last && frame - last[1] <= maxGapFrames) last[1] = frame + 1;
    else runs.push([frame, frame + 1]);
  }

  const minSpeechFrames = Math.round(options.minSpeechSec / FRAME_SEC);
  const pad = Math.round(options.paddingSec * sampleRate);
  const maxSamples = Math.floor(options.maxSpanSec * sampleRate);
  const spans: AudioSpan[] = [];
  for (const [first, end] of runs) {
    if (end - first < minSpeechFrames) continue;
    let start = Math.max(0, first * frameLength - pad, spans.at(-1)?.end ?? 0);
    const stop = Math.min(samples.length, end * frameLength + pad);
    while (stop - start > maxSamples) {
      const cut = quietestFrame(rms, start + maxSamples - 30 * sampleRate, start + maxSamples, frameLength);
      spans.push({ channel, start, end: cut });
      start = cut;
    }
    spans.push({ channel, start, end: stop });
  }
  return spans;
}

/** The 10th percentile of the frames' RMS: what the line sounds like when nobody speaks. */
function noiseFloor(rms: Float64Array): number {
  if (rms.length === 0) return 0;
  const sorted = Float64Array.from(rms).sort();
  return sorted[Math.floor(sorted.length * 0.1)]!;
}

/** The start (in samples) of the quietest frame between two sample positions. */
function quietestFrame(rms: Float64Array, fromSample: number, toSample: number, frameLength: number): number {
  const first = Math.max(0, Math.ceil(fromSample / frameLength));
  const last = Math.floor(toSample / frameLength);
  let best = last;
  for (let frame = first; frame < last; frame++) if (rms[frame]! < rms[best]!) best = frame;
  return Math.min(best * frameLength, toSample);
}

/** One span of one channel as a mono 16-bit PCM WAV file. */
export function spanWav(recording: PcmRecording, span: AudioSpan): Buffer {
  const samples = recording.channels[span.channel]!.subarray(span.start, span.end);
  const file = Buffer.alloc(44 + samples.length * 2);
  file.write('RIFF', 0, 'latin1');
  file.writeUInt32LE(file.length - 8, 4);
  file.write('WAVEfmt ', 8, 'latin1');
  file.writeUInt32LE(16, 16);
  file.writeUInt16LE(1, 20);
  file.writeUInt16LE(1, 22);
  file.writeUInt32LE(recording.sampleRate, 24);
  file.writeUInt32LE(recording.sampleRate * 2, 28);
  file.writeUInt16LE(2, 32);
  file.writeUInt16LE(16, 34);
  file.write('data', 36, 'latin1');
  file.writeUInt32LE(samples.length * 2, 40);
  for (let i = 0; i < samples.length; i++) file.writeInt16LE(samples[i]!, 44 + i * 2);
  return file;
}
