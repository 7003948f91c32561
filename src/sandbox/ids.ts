import { randomBytes } from 'node:crypto';

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/**
 * An id shaped like OpenAI's: a prefix and 21 alphanumerics, e.g. `item_C1PSbur7hgTONg4H8lKhl`.
 * Prefixes in use: `event_`, `sess_`, `conv_`, `item_`, `resp_`.
 */
export function openaiId(prefix: 'event' | 'sess' | 'conv' | 'item' | 'resp'): string {
  const bytes = randomBytes(21);
  let id = '';
  for (const byte of bytes) id += ALPHANUMERIC[byte % ALPHANUMERIC.length];
  return `${prefix}_${id}`;
}

/** A Twilio SID: two capital letters naming the resource, then 32 lowercase hex digits. */
export function twilioSid(prefix: 'AC' | 'CA' | 'MZ' | 'RE'): string {
  return prefix + randomBytes(16).toString('hex');
}
