import { isSupportedCountry, parsePhoneNumberFromString, type NumberType } from 'libphonenumber-js/max';

/**
 * Which numbers Callwatch dials for a business (toll fraud: a stolen key must not be able to
 * run up a bill on premium ranges or far-away countries). Outbound calls, campaigns and
 * transfers reach a number only when
 *
 * - its type (libphonenumber's full metadata) is not one that bills the caller extra:
 *   premium rate, shared cost, and personal numbers (UK 070, US 500: forwarding numbers
 *   priced like premium rate, a classic fraud route) are refused everywhere;
 * - it belongs to a country (satellite and international networks, +881/+882/+883, belong
 *   to none and are refused) that is among the business's dialing countries.
 *
 * Allowed: fixed line, mobile, toll free, VoIP (Israel's 072–077 business lines), UAN
 * (national-rate business numbers such as UK 03), pager, voicemail, and a number in no known
 * range of an allowed country — the metadata lags newly opened mobile ranges, and the
 * country list already bounds what such a call can cost.
 */

/** Number types refused in every country, with the words a person reads. */
const refusedTypes: Partial<Record<NumberType & string, string>> = {
  PREMIUM_RATE: 'a premium-rate number',
  SHARED_COST: 'a shared-cost number',
  PERSONAL_NUMBER: 'a personal (forwarding) number, charged like premium rate',
};

/** Used when a business has no phone number and its locale names no region. */
const fallbackCountry = 'IL';

/**
 * Why `e164` may not be dialed ("is a premium-rate number, …"), or null when it may.
 * `countries` are the business's dialing countries (`dialingCountries`); null checks the
 * number's type only (for a caller that learns the business's countries later).
 */
export function dialRefusal(e164: string, countries: readonly string[] | null): string | null {
  const parsed = parsePhoneNumberFromString(e164);
  if (!parsed) return 'is not a phone number';
  const type = parsed.getType();
  const refusedType = type ? refusedTypes[type] : undefined;
  if (refusedType) return `is ${refusedType}, which Callwatch never dials`;
  const country = parsed.country;
  if (!country) return 'belongs to no country Callwatch can tell (satellite, an international network, or an unknown range), so it is never dialed';
  if (countries && !countries.includes(country)) {
    return `is in ${country}, which is not among the business's allowed countries (${countries.join(', ')}); an admin can add it to allowedCountries in the business settings`;
  }
  return null;
}

/**
 * The countries a business's calls may reach: its `allowedCountries` setting when it lists
 * any, else its own country — that of its phone numbers (all of them, if it has numbers in
 * several), else the region of its locale (he-IL → IL).
 */
export function dialingCountries(allowedCountries: readonly string[], phoneNumbers: readonly string[], locale: string): string[] {
  if (allowedCountries.length > 0) return [...allowedCountries];
  const own = new Set(phoneNumbers.flatMap((e164) => parsePhoneNumberFromString(e164)?.country ?? []));
  if (own.size > 0) return [...own].sort();
  return [localeRegion(locale) ?? fallbackCountry];
}

/** Whether `code` is an ISO 3166-1 alpha-2 country code libphonenumber knows (upper case). */
export function isDialingCountry(code: string): boolean {
  return /^[A-Z]{2}$/.test(code) && isSupportedCountry(code);
}

function localeRegion(locale: string): string | undefined {
  try {
    const region = new Intl.Locale(locale).maximize().region;
    return region && isDialingCountry(region) ? region : undefined;
  } catch {
    return undefined;
  }
}
