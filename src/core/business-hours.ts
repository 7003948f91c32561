import { HDate, HebrewCalendar, flags } from '@hebcal/core';
import { zonedDate, zonedDateTime } from './time.ts';

/** Opening hours per weekday (0 = Sunday), "HH:MM" wall-clock times in the business's zone. */
export type WorkingHours = Partial<Record<'0' | '1' | '2' | '3' | '4' | '5' | '6', { open: string; close: string }[]>>;

export interface Slot {
  start: Date;
  end: Date;
}

export interface FreeSlotsInput {
  now: Date;
  /** How many calendar days ahead to look, today included. */
  days: number;
  timeZone: string;
  workingHours: WorkingHours;
  slotMinutes: number;
  /** Booked intervals; a slot overlapping any of them is not free. */
  booked: { startsAt: Date; endsAt: Date }[];
  /** No slot starts sooner than this after `now`. Default 60 minutes. */
  leadMinutes?: number;
}

/**
 * True when `date` (YYYY-MM-DD) is a Jewish holiday on which businesses in Israel close
 * (Yom Tov: Rosh Hashana, Yom Kippur, the first and last days of Sukkot and Pesach, Shavuot).
 */
export function isClosedHoliday(date: string): boolean {
  const events = HebrewCalendar.getHolidaysOnDate(new HDate(new Date(`${date}T12:00:00Z`)), true) ?? [];
  return events.some((event) => (event.getFlags() & flags.CHAG) !== 0);
}

/**
 * The bookable slots of the coming days: slot-sized steps through each day's opening hours
 * in the business's zone, skipping closed holidays, the past (plus lead time) and anything
 * overlapping a booking. Computed once at call start, so availability questions during the
 * call need no query.
 */
export function freeSlots(input: FreeSlotsInput): Slot[] {
  const slotMs = input.slotMinutes * 60_000;
  const earliest = input.now.getTime() + (input.leadMinutes ?? 60) * 60_000;
  const booked = input.booked.map((b) => [b.startsAt.getTime(), b.endsAt.getTime()] as const);
  const slots: Slot[] = [];
  for (let day = 0; day < input.days; day++) {
    const date = zonedDate(new Date(input.now.getTime() + day * 86_400_000), input.timeZone);
    if (isClosedHoliday(date)) continue;
    const weekday = String(new Date(`${date}T12:00:00Z`).getUTCDay()) as keyof WorkingHours;
    for (const { open, close } of input.workingHours[weekday] ?? []) {
      const closesAt = zonedDateTime(date, close, input.timeZone).getTime();
      for (let start = zonedDateTime(date, open, input.timeZone).getTime(); start + slotMs <= closesAt; start += slotMs) {
        const end = start + slotMs;
        if (start < earliest) continue;
        if (booked.some(([from, to]) => start < to && end > from)) continue;
        slots.push({ start: new Date(start), end: new Date(end) });
      }
    }
  }
  return slots;
}
