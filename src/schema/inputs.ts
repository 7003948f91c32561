import { z } from 'zod';
import { normalizePhone } from '../core/phone.ts';

/**
 * Zod schemas shared by input types (the validation plugin runs them; their messages are the
 * field errors clients see, after the field's path).
 */

/** A phone number as people type it, stored as E.164 (Israeli numbers without +972 too). */
export const phoneNumber = z.string().transform((value, ctx) => {
  const e164 = normalizePhone(value);
  if (e164 === undefined) {
    ctx.addIssue({ code: 'custom', message: 'is not a phone number (e.g. 050-123-4567 or +972501234567)' });
    return z.NEVER;
  }
  return e164;
});

/** Free text of at most `max` characters, trimmed; empty → null. */
export function text(max: number) {
  return z
    .string()
    .trim()
    .max(max, `must be at most ${max} characters`)
    .transform((value) => (value === '' ? null : value))
    .nullish();
}

/**
 * For an input type whose listed fields may be left out but not set to null (their columns
 * have no "unknown"). Checked on the whole input object: field validators never see null.
 */
export function noNulls(keys: readonly string[]) {
  return z.record(z.string(), z.unknown()).superRefine((input, ctx) => {
    for (const key of keys) if (input[key] === null) ctx.addIssue({ code: 'custom', path: [key], message: 'must not be null' });
  });
}

/** An IANA time zone this Node knows, e.g. Asia/Jerusalem. */
export const timeZone = z.string().refine((value) => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: value });
    return true;
  } catch {
    return false;
  }
}, 'is not an IANA time zone (e.g. Asia/Jerusalem)');

/** An absolute http(s) URL without credentials, for webhooks. */
export const webhookUrl = z
  .string()
  .trim()
  .max(2048, 'must be at most 2048 characters')
  .refine((value) => {
    try {
      const url = new URL(value);
      return (url.protocol === 'https:' || url.protocol === 'http:') && url.hostname !== '' && url.username === '' && url.password === '';
    } catch {
      return false;
    }
  }, 'must be an absolute http(s) URL without a user name or password, e.g. https://crm.example.com/hooks/calls')
  .nullish();
