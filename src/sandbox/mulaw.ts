/**
 * G.711 μ-law, the audio of a phone call: 8 kHz, mono, one byte per sample. Twilio Media
 * Streams and OpenAI's `audio/pcmu` format both carry it as raw bytes (no header), so
 * 8 bytes are 1 ms and a 20 ms Twilio frame is 160 bytes.
 */

/** Samples per second of telephone μ-law audio. */
export const SAMPLE_RATE = 8000;
/** One μ-law byte per sample at 8 kHz: 8 bytes of audio last 1 ms. */
export const BYTES_PER_MS = SAMPLE_RATE / 1000;
/** μ-law byte of digital silence (decodes to 0). */
export const SILENCE_BYTE = 0xff;

const BIAS = 0x84;
const CLIP = 32635;

/** decode() of every byte, computed once: the stand-ins decode every byte they receive. */
const DECODE_TABLE = Int16Array.from({ length: 256 }, (_, byte) => decodeByte(byte));

function decodeByte(byte: number): number {
  const u = ~byte & 0xff;
  const sign = u & 0x80;
  const exponent = (u >> 4) & 0x07;
  const mantissa = u & 0x0f;
  const magnitude = (((mantissa << 3) + BIAS) << exponent) - BIAS;
  // `| 0` turns the -0 of byte 0x7f into 0.
  return (sign ? -magnitude : magnitude) | 0;
}

/** Encodes one 16-bit linear PCM sample (clamped to Int16) as a μ-law byte. */
export function encode(sample: number): number {
  let value = Math.max(-32768, Math.min(32767, Math.round(sample)));
  const sign = value < 0 ? 0x80 : 0;
  if (sign) value = -value;
  if (value > CLIP) value = CLIP;
  value += BIAS;
  // The exponent is the position of the highest set bit above bit 7 (0 … 7).
  let exponent = 7;
  for (let mask = 0x4000; (value & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (value >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

/** Decodes one μ-law byte to a 16-bit linear PCM sample. */
export function decode(byte: number): number {
  return DECODE_TABLE[byte & 0xff] ?? 0;
}

/** Encodes 16-bit PCM samples (8 kHz mono) as μ-law bytes. */
export function encodePcm(samples: Int16Array): Buffer {
  const out = Buffer.alloc(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = encode(samples[i] ?? 0);
  return out;
}

/** Decodes μ-law bytes to 16-bit PCM samples. */
export function decodeToPcm(ulaw: Uint8Array): Int16Array {
  const out = new Int16Array(ulaw.length);
  for (let i = 0; i < ulaw.length; i++) out[i] = decode(ulaw[i] ?? SILENCE_BYTE);
  return out;
}

/** Root mean square of μ-law audio, in 16-bit PCM units (0 for silence, ~23 000 for a full-scale sine). */
export function rms(ulaw: Uint8Array): number {
  if (ulaw.length === 0) return 0;
  let sum = 0;
  for (const byte of ulaw) {
    const sample = decode(byte);
    sum += sample * sample;
  }
  return Math.sqrt(sum / ulaw.length);
}

/** `ms` milliseconds of digital silence. */
export function silence(ms: number): Buffer {
  return Buffer.alloc(durationToBytes(ms), SILENCE_BYTE);
}

/**
 * `ms` milliseconds of a sine tone, for audio that must be heard (not silent) but need not
 * be speech — e.g. an agent reply the test scripted without audio.
 */
export function tone(ms: number, options: { hz?: number; amplitude?: number } = {}): Buffer {
  const hz = options.hz ?? 440;
  const amplitude = options.amplitude ?? 8000;
  const samples = new Int16Array(durationToBytes(ms));
  for (let i = 0; i < samples.length; i++) samples[i] = Math.round(amplitude * Math.sin((2 * Math.PI * hz * i) / SAMPLE_RATE));
  return encodePcm(samples);
}

/** How long μ-law audio of `bytes` bytes plays, in ms. */
export function bytesToDuration(bytes: number): number {
  return bytes / BYTES_PER_MS;
}

/** How many μ-law bytes play for `ms` milliseconds (whole samples). */
export function durationToBytes(ms: number): number {
  return Math.round(ms * BYTES_PER_MS);
}
