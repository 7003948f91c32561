import { isClosedHoliday } from '../core/business-hours.ts';
import { AppError } from '../core/errors.ts';
import { zonedDate, zonedDateTime } from '../core/time.ts';
import type { CallingHours, RetryPolicy } from '../entities/business-settings.entity.ts';

/**
 * When an outbound call may be placed: per-weekday windows in the business's time zone,
 * never on a closed Jewish holiday. Pure — the dialer passes the business's hours and zone.
 * The defaults (and the types) are beside the settings columns they fill:
 * entities/business-settings.entity.ts.
 */

/**
 * How many calendar days ahead `nextCallingTime` looks. Two weeks cover the longest run of
 * closed days in Israel (Rosh Hashana falling next to Shabbat, Sukkot) with room to spare.
 */
export const CALLING_SEARCH_DAYS = 14;

const DAY_MS = 86_400_000;

/**
 * `at` itself when it falls inside a calling window ([open, close) in `timeZone`), otherwise
 * the start of the next window, skipping closed holidays (unless `skipHolidays` is false:
 * a business that calls on holidays). Windows are built from wall-clock
 * times each day, so a DST change moves them with the clock.
 *
 * @throws AppError VALIDATION_FAILED when `hours` has no usable window, or none falls within
 *   the next CALLING_SEARCH_DAYS days.
 */
export function nextCallingTime(at: Date, hours: CallingHours, timeZone: string, options: { skipHolidays?: boolean } = {}): Date {
  if (!hasAnyWindow(hours)) {
    throw new AppError('VALIDATION_FAILED', 'calling hours have no window on any weekday', {
      userMessage: 'Calling hours must allow calls on at least one day of the week.',
    });
  }
  const today = zonedDate(at, timeZone);
  for (let day = 0; day <= CALLING_SEARCH_DAYS; day++) {
    const date = addDays(today, day);
    if (options.skipHolidays !== false && isClosedHoliday(date)) continue;
    for (const window of windowsOn(date, hours, timeZone)) {
      if (at.getTime() >= window.end.getTime()) continue;
      return at.getTime() >= window.start.getTime() ? at : window.start;
    }
  }
  throw new AppError('VALIDATION_FAILED', `no calling window in the next ${CALLING_SEARCH_DAYS} days`, {
    details: { from: at.toISOString(), timeZone },
  });
}

/**
 * When to try again after attempt number `attemptNumber` (the first call is 1) failed to
 * reach the lead: `spacingMinutes` after `now`, moved into the next calling window; or
 * null when the policy allows no more attempts.
 */
export function retryTime(
  now: Date,
  attemptNumber: number,
  policy: RetryPolicy,
  hours: CallingHours,
  timeZone: string,
  options: { skipHolidays?: boolean } = {},
): Date | null {
  if (attemptNumber >= policy.maxAttempts) return null;
  return nextCallingTime(new Date(now.getTime() + policy.spacingMinutes * 60_000), hours, timeZone, options);
}

/** The day's windows as instants, earliest first; empty or inverted windows are ignored. */
function windowsOn(date: string, hours: CallingHours, timeZone: string): { start: Date; end: Date }[] {
  return (hours[weekdayOf(date)] ?? [])
    .map(({ open, close }) => ({ start: zonedDateTime(date, open, timeZone), end: zonedDateTime(date, close, timeZone) }))
    .filter((window) => window.start.getTime() < window.end.getTime())
    .sort((a, b) => a.start.getTime() - b.start.getTime());
}

function hasAnyWindow(hours: CallingHours): boolean {
  return Object.values(hours).some((windows) => (windows ?? []).some(({ open, close }) => open < close));
}

/** Calendar arithmetic on YYYY-MM-DD at noon UTC, so no DST change can shift the date. */
function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T12:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

function weekdayOf(date: string): keyof CallingHours {
  return String(new Date(`${date}T12:00:00Z`).getUTCDay()) as keyof CallingHours;
}
