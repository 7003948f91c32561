import type { EntityManager } from '@mikro-orm/postgresql';
import { firstNameOf } from '../../src/core/names.ts';
import { zonedDate, zonedDateTime } from '../../src/core/time.ts';
import { Appointment } from '../../src/entities/appointment.entity.ts';
import { BusinessSettings } from '../../src/entities/business-settings.entity.ts';
import { Business } from '../../src/entities/business.entity.ts';
import { Lead } from '../../src/entities/lead.entity.ts';
import { PhoneNumber } from '../../src/entities/phone-number.entity.ts';

/** The number callers dial; the voice webhook routes it to the bench business. */
export const businessNumber = '+97233824100';
/** The caller: a known lead with a title in her name and a known gender. */
export const callerNumber = '+972501234567';
const timeZone = 'Asia/Jerusalem';

export interface BenchScenario {
  businessId: string;
  leadId: string;
}

/**
 * A realistic tenant for call start: a Hebrew business with its settings (recording off,
 * so nothing outside the call path runs), the number it answers, a known caller
 * (ד״ר שרה לוי, female) and booked appointments on each of the coming days, so the free
 * slots computed at call start have gaps to work around.
 */
export async function seedScenario(rootEm: EntityManager): Promise<BenchScenario> {
  const em = rootEm.fork();
  const business = em.create(Business, { name: 'שיפוצי הגליל', timezone: timeZone, locale: 'he-IL' });
  em.create(PhoneNumber, { e164: businessNumber, business, label: 'קו ראשי' });
  em.create(BusinessSettings, {
    business,
    agentInstructions: [
      'את/ה נציג/ת שירות של "שיפוצי הגליל", חברת שיפוצים בצפון ובמרכז.',
      'ברר/י בנימוס את שם הפונה, העיר וסוג העבודה, והצע/י תור לביקור הערכת מחיר.',
      'דבר/י בעברית פשוטה וקצרה. אל תבטיח/י מחירים בטלפון.',
    ].join('\n'),
    voice: 'coral',
    language: 'he',
    recordCalls: false,
    transferNumber: '+972501112233',
    // The relay benchmark's callers send near-silence for minutes: no watchdog may end them.
    silenceTimeoutSec: 3_600,
    maxCallDurationSec: 3_600,
  });
  const fullName = 'ד״ר שרה לוי';
  const lead = em.create(Lead, {
    business,
    phone: callerNumber,
    fullName,
    firstName: firstNameOf(fullName) ?? null,
    gender: 'female',
    city: 'חיפה',
    serviceCategory: 'שיפוץ מטבח',
    status: 'contacted',
  });
  const now = Date.now();
  for (let day = 0; day < 8; day++) {
    const date = zonedDate(new Date(now + day * 86_400_000), timeZone);
    for (const time of ['09:30', '11:00', '14:00', '16:30']) {
      const startsAt = zonedDateTime(date, time, timeZone);
      em.create(Appointment, { business, lead, startsAt, endsAt: new Date(startsAt.getTime() + 30 * 60_000), notes: 'ביקור להערכת מחיר' });
    }
  }
  await em.flush();
  return { businessId: business.id, leadId: lead.id };
}

/** A CallSid that is unique within a run: `CA` + 32 hex digits, `n` in the last ones. */
export function benchCallSid(run: number, n: number): string {
  return `CA${run.toString(16).padStart(8, '0')}${n.toString(16).padStart(24, '0')}`;
}
