import type { Slot } from '../../../core/business-hours.ts';
import { formatter, zonedDate, zonedDateTime } from '../../../core/time.ts';

export type PartOfDay = 'morning' | 'afternoon' | 'evening';

/** Local hours each part of the day covers: [from, to). */
const partsOfDay: Record<PartOfDay, [number, number]> = { morning: [0, 12], afternoon: [12, 17], evening: [17, 24] };

/** A slot as the model sees it: local start (to pass back to book_appointment) and a spoken form. */
export interface SlotOffer {
  start: string;
  end: string;
  weekday: string;
}

/**
 * Free slots matching a day and a part of the day, from the slots preloaded at call start
 * (no query), in the business's time zone, soonest first.
 */
export function matchingSlots(slots: readonly Slot[], timeZone: string, filter: { date?: string; partOfDay?: PartOfDay }, limit = 6): SlotOffer[] {
  const matching = slots.filter((slot) => {
    if (filter.date && zonedDate(slot.start, timeZone) !== filter.date) return false;
    if (filter.partOfDay) {
      const [from, to] = partsOfDay[filter.partOfDay];
      const hour = localHour(slot.start, timeZone);
      if (hour < from || hour >= to) return false;
    }
    return true;
  });
  return matching.slice(0, limit).map((slot) => offer(slot, timeZone));
}

/** The free slots nearest to `start` (before or after), soonest-nearest first. */
export function nearestSlots(slots: readonly Slot[], start: Date, timeZone: string, limit = 3): SlotOffer[] {
  return [...slots]
    .sort((a, b) => Math.abs(a.start.getTime() - start.getTime()) - Math.abs(b.start.getTime() - start.getTime()) || a.start.getTime() - b.start.getTime())
    .slice(0, limit)
    .sort((a, b) => a.start.getTime() - b.start.getTime())
    .map((slot) => offer(slot, timeZone));
}

/** The instant of a local `YYYY-MM-DDTHH:MM` in `timeZone`. */
export function localToInstant(local: string, timeZone: string): Date {
  const [date = '', time = ''] = local.split('T');
  return zonedDateTime(date, time.slice(0, 5), timeZone);
}

/** `YYYY-MM-DDTHH:MM` of an instant in `timeZone`. */
export function instantToLocal(instant: Date, timeZone: string): string {
  const time = formatter('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(instant);
  return `${zonedDate(instant, timeZone)}T${time}`;
}

function offer(slot: Slot, timeZone: string): SlotOffer {
  return {
    start: instantToLocal(slot.start, timeZone),
    end: instantToLocal(slot.end, timeZone),
    weekday: formatter('en-GB', { timeZone, weekday: 'long' }).format(slot.start),
  };
}

function localHour(instant: Date, timeZone: string): number {
  return Number(formatter('en-GB', { timeZone, hour: '2-digit', hourCycle: 'h23' }).format(instant));
}
