/**
 * Tagged μ-law frames for the relay benchmark. Each 20 ms frame (160 bytes) carries, in its
 * first 18 bytes, which way it travels, which call it belongs to and its number in that
 * call's stream — written as nibbles in bytes 0xF0–0xFF, which μ-law decodes to within
 * ±120 of silence. The rest is silence. So a frame survives any relay that forwards audio
 * untouched, can be matched exactly on arrival, and never trips the stand-in's voice
 * activity detector (RMS threshold 200) into a barge-in.
 */

/** One Twilio media frame: 20 ms of 8 kHz μ-law. */
export const FRAME_BYTES = 160;
/** Base64 characters that hold the tag: 18 bytes, exactly 24 characters. */
const TAG_CHARS = 24;
const MAGIC = 0xfa;

export type Direction = 'up' | 'down';
const directionByte = { up: 0xf1, down: 0xf2 } as const;

export interface FrameTag {
  direction: Direction;
  call: number;
  frame: number;
}

const scratch = Buffer.alloc(FRAME_BYTES, 0xff);

/** The base64 payload of frame `frame` of call `call`, travelling `direction`. */
export function taggedFrame(direction: Direction, call: number, frame: number): string {
  scratch[0] = MAGIC;
  scratch[1] = directionByte[direction];
  writeNibbles(scratch, 2, frame);
  writeNibbles(scratch, 10, call);
  return scratch.toString('base64');
}

/** The tag of a base64 payload, or undefined when it carries none (e.g. the greeting's audio). */
export function readTag(payload: string): FrameTag | undefined {
  if (payload.length < TAG_CHARS) return undefined;
  const head = Buffer.from(payload.slice(0, TAG_CHARS), 'base64');
  if (head[0] !== MAGIC) return undefined;
  const direction = head[1] === directionByte.up ? 'up' : head[1] === directionByte.down ? 'down' : undefined;
  const frame = readNibbles(head, 2);
  const call = readNibbles(head, 10);
  if (!direction || frame < 0 || call < 0) return undefined;
  return { direction, call, frame };
}

function writeNibbles(buffer: Buffer, offset: number, value: number): void {
  for (let i = 0; i < 8; i++) buffer[offset + i] = 0xf0 | ((value >>> (28 - 4 * i)) & 0x0f);
}

function readNibbles(buffer: Buffer, offset: number): number {
  let value = 0;
  for (let i = 0; i < 8; i++) {
    const byte = buffer[offset + i] ?? 0;
    if ((byte & 0xf0) !== 0xf0) return -1;
    value = value * 16 + (byte & 0x0f);
  }
  return value;
}
