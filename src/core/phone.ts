import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';

/**
 * Normalises a phone number to E.164 (`050-123-4567` → `+972501234567`). Numbers without a
 * country code are read in `defaultRegion` (Israel unless the business says otherwise).
 * Returns undefined for anything that is not a possible phone number, including Twilio's
 * anonymous callers ("Anonymous", "+266696687").
 */
export function normalizePhone(input: string, defaultRegion: CountryCode = 'IL'): string | undefined {
  const parsed = parsePhoneNumberFromString(input.trim(), defaultRegion);
  if (!parsed || !parsed.isPossible()) return undefined;
  return parsed.number;
}
