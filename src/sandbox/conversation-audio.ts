import { wavFile } from './wav.ts';

/** One stretch of "speech": a square-wave burst on one channel at a level that names it. */
export interface AudioTurn {
  /** 0: Twilio's first channel (the person on the phone); 1: the second (the agent). */
  channel: 0 | 1;
  startSec: number;
  lengthSec: number;
  /** Peak amplitude, 1000–30000: a stand-in handler reads it back to know which turn it hears. */
  level: number;
}

const TONE_HZ = 400;

/**
 * A recording as Twilio stores one (8 kHz 16-bit PCM WAV, dual-channel unless told) with
 * silence everywhere but `turns`. Cheap to build at any length — a 40-minute dual-channel
 * call is 77 MB — and loud enough for an energy detector, so the pipeline cuts it at the
 * turns. In a mono file every turn is on the one channel.
 */
export function conversationWavFile(turns: readonly AudioTurn[], durationSec: number, format: { sampleRate?: number; channels?: 1 | 2 } = {}): Buffer {
  const { sampleRate = 8000, channels = 2 } = format;
  const frames = Math.round(durationSec * sampleRate);
  const pcm = new Int16Array(frames * channels);
  const halfPeriod = Math.max(1, Math.round(sampleRate / TONE_HZ / 2));
  for (const turn of turns) {
    const from = Math.round(turn.startSec * sampleRate);
    const to = Math.min(frames, Math.round((turn.startSec + turn.lengthSec) * sampleRate));
    for (let frame = from; frame < to; frame++) pcm[frame * channels + Math.min(turn.channel, channels - 1)] = Math.floor((frame - from) / halfPeriod) % 2 === 0 ? turn.level : -turn.level;
  }
  // The PCM as little-endian bytes: every host Node runs on is little-endian.
  return wavFile(Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength), { sampleRate, channels });
}

/**
 * The levels of the bursts in a mono 16-bit WAV, in order: runs of sound separated by at
 * least `gapSec` of digital silence, each named by its peak. What a stand-in transcription
 * handler uses to say which turns a request holds.
 */
export function burstLevels(file: Buffer, gapSec = 0.1): number[] {
  const dataAt = file.indexOf('data', 12, 'latin1');
  if (dataAt < 0) return [];
  const sampleRate = file.readUInt32LE(24);
  const channels = file.readUInt16LE(22);
  const start = dataAt + 8;
  const count = Math.floor(Math.min(file.readUInt32LE(dataAt + 4), file.length - start) / (2 * channels));
  const gap = Math.round(gapSec * sampleRate);
  const levels: number[] = [];
  let peak = 0;
  let quiet = gap;
  for (let i = 0; i < count; i++) {
    const value = Math.abs(file.readInt16LE(start + i * 2 * channels));
    if (value === 0) {
      quiet += 1;
      if (quiet === gap && peak > 0) {
        levels.push(peak);
        peak = 0;
      }
      continue;
    }
    quiet = 0;
    peak = Math.max(peak, value);
  }
  if (peak > 0) levels.push(peak);
  return levels;
}
