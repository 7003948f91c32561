/**
 * The instant at which the wall clock in `timeZone` shows `date` `time`
 * (`zonedDateTime('2026-12-01', '10:00', 'Asia/Jerusalem')` → 08:00Z in winter).
 * Wall times skipped by a DST jump resolve to the instant just after the jump.
 */
export function zonedDateTime(date: string, time: string, timeZone: string): Date {
  const asUtc = new Date(`${date}T${time}:00Z`);
  // Two passes: the offset at the guess can differ from the offset at the answer near DST.
  let instant = new Date(asUtc.getTime() - offsetMs(asUtc, timeZone));
  instant = new Date(asUtc.getTime() - offsetMs(instant, timeZone));
  return instant;
}

/** The calendar date (YYYY-MM-DD) in `timeZone` at `instant`. */
export function zonedDate(instant: Date, timeZone: string): string {
  return formatter('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(instant);
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/**
 * A shared Intl.DateTimeFormat. Building one costs tens of microseconds — far more than
 * using it — and call start formats dozens of times, so they are built once per
 * locale and options (a handful per time zone in use).
 */
export function formatter(locale: string, options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  const key = `${locale}|${JSON.stringify(options)}`;
  let cached = formatters.get(key);
  if (!cached) {
    cached = new Intl.DateTimeFormat(locale, options);
    formatters.set(key, cached);
  }
  return cached;
}

/** How far `timeZone`'s wall clock is ahead of UTC at `instant`, in milliseconds. */
function offsetMs(instant: Date, timeZone: string): number {
  const parts = Object.fromEntries(
    formatter('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    })
      .formatToParts(instant)
      .map((part) => [part.type, part.value]),
  );
  const wall = Date.UTC(+parts.year!, +parts.month! - 1, +parts.day!, +parts.hour!, +parts.minute!, +parts.second!);
  return wall - Math.floor(instant.getTime() / 1000) * 1000;
}
