/**
 * WAV files as Twilio serves call recordings: RIFF/WAVE, one `fmt ` chunk of 16-bit linear
 * PCM, then one `data` chunk, samples little-endian and interleaved by channel.
 */

const HEADER_BYTES = 44;
const BYTES_PER_SAMPLE = 2;

/**
 * A WAV file holding `pcm`: 16-bit samples (interleaved when `channels` is 2), or a Buffer
 * already holding them little-endian. Throws a RangeError when the samples do not fill
 * whole frames.
 */
export function wavFile(pcm: Int16Array | Buffer, format: { sampleRate: number; channels: 1 | 2 }): Buffer {
  const { sampleRate, channels } = format;
  const blockAlign = channels * BYTES_PER_SAMPLE;
  const dataBytes = pcm instanceof Int16Array ? pcm.length * BYTES_PER_SAMPLE : pcm.length;
  if (dataBytes % blockAlign !== 0) throw new RangeError(`${dataBytes} bytes of PCM is not a whole number of ${channels}-channel frames`);

  const file = Buffer.alloc(HEADER_BYTES + dataBytes);
  file.write('RIFF', 0, 'ascii');
  file.writeUInt32LE(file.length - 8, 4);
  file.write('WAVE', 8, 'ascii');
  file.write('fmt ', 12, 'ascii');
  file.writeUInt32LE(16, 16); // fmt chunk size for PCM
  file.writeUInt16LE(1, 20); // format tag: linear PCM
  file.writeUInt16LE(channels, 22);
  file.writeUInt32LE(sampleRate, 24);
  file.writeUInt32LE(sampleRate * blockAlign, 28); // byte rate
  file.writeUInt16LE(blockAlign, 32);
  file.writeUInt16LE(BYTES_PER_SAMPLE * 8, 34);
  file.write('data', 36, 'ascii');
  file.writeUInt32LE(dataBytes, 40);
  if (pcm instanceof Int16Array) {
    // Written sample by sample so the file is little-endian whatever the host's byte order.
    for (let i = 0; i < pcm.length; i++) file.writeInt16LE(pcm[i] ?? 0, HEADER_BYTES + i * BYTES_PER_SAMPLE);
  } else {
    pcm.copy(file, HEADER_BYTES);
  }
  return file;
}

/** A WAV file of `durationSec` seconds of silence, e.g. a default recording. */
export function silentWavFile(durationSec: number, format: { sampleRate: number; channels: 1 | 2 }): Buffer {
  const frames = Math.round(durationSec * format.sampleRate);
  return wavFile(Buffer.alloc(frames * format.channels * BYTES_PER_SAMPLE), format);
}

/**
 * What a WAV file's header says: its channels, sample rate and length in seconds (the
 * `fmt ` and `data` chunks wherever they are; a data size left unset by a streaming writer,
 * 0 or 0xFFFFFFFF, counts to the end of the file). Undefined when `file` is not a WAV.
 */
export function wavFormat(file: Buffer): { channels: number; sampleRate: number; durationSec: number } | undefined {
  if (file.length < 12 || file.toString('latin1', 0, 4) !== 'RIFF' || file.toString('latin1', 8, 12) !== 'WAVE') return undefined;
  let format: { channels: number; sampleRate: number; byteRate: number } | undefined;
  for (let offset = 12; offset + 8 <= file.length; ) {
    const id = file.toString('latin1', offset, offset + 4);
    const size = file.readUInt32LE(offset + 4);
    if (id === 'fmt ' && offset + 24 <= file.length) {
      format = { channels: file.readUInt16LE(offset + 10), sampleRate: file.readUInt32LE(offset + 12), byteRate: file.readUInt32LE(offset + 16) };
    }
    if (id === 'data') {
      if (!format || format.byteRate === 0) return undefined;
      const bytes = size === 0 ? file.length - offset - 8 : Math.min(size, file.length - offset - 8);
      return { channels: format.channels, sampleRate: format.sampleRate, durationSec: bytes / format.byteRate };
    }
    offset += 8 + size + (size % 2);
  }
  return undefined;
}

/** The length in seconds of a WAV file `wavFile` wrote, or undefined when `file` is not one. */
export function wavDurationSec(file: Buffer): number | undefined {
  if (file.length < HEADER_BYTES || file.toString('ascii', 0, 4) !== 'RIFF' || file.toString('ascii', 36, 40) !== 'data') return undefined;
  const byteRate = file.readUInt32LE(28);
  return byteRate > 0 ? file.readUInt32LE(40) / byteRate : undefined;
}
