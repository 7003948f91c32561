import type { EntityManager } from '@mikro-orm/postgresql';
import { firstNameOf } from '../core/names.ts';
import { zonedDate, zonedDateTime } from '../core/time.ts';
import { Appointment } from '../entities/appointment.entity.ts';
import { BusinessSettings } from '../entities/business-settings.entity.ts';
import { Business } from '../entities/business.entity.ts';
import type { Call, TranscriptTurn } from '../entities/call.entity.ts';
import { createFinishedCall } from '../entities/call-record.ts';
import { Lead, type Gender } from '../entities/lead.entity.ts';
import { PhoneNumber } from '../entities/phone-number.entity.ts';

/**
 * The demo business of `npm run seed:demo` and `npm run demo`: שיפוצי הגליל, a Hebrew-speaking
 * renovation company — settings, a phone number, leads, past calls with transcripts and
 * summaries, upcoming appointments.
 */

export const demoPhoneNumber = '+97233824100';
const timeZone = 'Asia/Jerusalem';

const leads: { fullName: string; phone: string; gender: Gender; city: string; service: string }[] = [
  { fullName: 'ד״ר שרה לוי', phone: '+972501234567', gender: 'female', city: 'חיפה', service: 'שיפוץ מטבח' },
  { fullName: 'משה כהן', phone: '+972522345678', gender: 'male', city: 'תל אביב-יפו', service: 'איטום גג' },
  { fullName: 'רחל אברהם', phone: '+972543456789', gender: 'female', city: 'ירושלים', service: 'צביעת דירה' },
  { fullName: 'הרב יוסף מזרחי', phone: '+972584567890', gender: 'male', city: 'בני ברק', service: 'שיפוץ אמבטיה' },
];

function transcript(start: Date, turns: [TranscriptTurn['speaker'], string][]): TranscriptTurn[] {
  return turns.map(([speaker, text], index) => ({ speaker, text, at: new Date(start.getTime() + index * 6_000).toISOString() }));
}

/** Creates the demo business unless it exists; returns it either way. */
export async function seedDemoBusiness(em: EntityManager): Promise<Business> {
  const existing = await em.findOne(PhoneNumber, { e164: demoPhoneNumber }, { populate: ['business'] });
  if (existing) return existing.business;

  const business = em.create(Business, { name: 'שיפוצי הגליל', timezone: timeZone, locale: 'he-IL' });
  em.create(PhoneNumber, { e164: demoPhoneNumber, business, label: 'קו ראשי' });
  em.create(BusinessSettings, {
    business,
    agentInstructions: [
      'את/ה נציג/ת שירות של "שיפוצי הגליל", חברת שיפוצים בצפון ובמרכז.',
      'ברר/י בנימוס את שם הפונה, העיר וסוג העבודה, והצע/י תור לביקור הערכת מחיר.',
      'דבר/י בעברית פשוטה וקצרה. אל תבטיח/י מחירים בטלפון.',
    ].join('\n'),
    voice: 'coral',
    language: 'he',
    recordCalls: true,
    transferNumber: '+972501112233',
    extractionSchema: [
      { name: 'budget_ils', description: 'התקציב המשוער בשקלים, אם נאמר', type: 'number' },
      { name: 'urgency', description: 'כמה דחופה העבודה', type: 'string', enum: ['low', 'normal', 'urgent'] },
    ],
  });

  const created = leads.map((lead) =>
    em.create(Lead, {
      business,
      phone: lead.phone,
      fullName: lead.fullName,
      firstName: firstNameOf(lead.fullName) ?? null,
      gender: lead.gender,
      city: lead.city,
      serviceCategory: lead.service,
      status: 'contacted',
    }),
  );

  const now = Date.now();
  const days = (n: number) => new Date(now + n * 86_400_000);
  /** A 30-minute visit `daysAhead` days from now at `time`, business time. */
  const book = (lead: Lead, call: Call | null, daysAhead: number, time: string, notes: string) => {
    const date = zonedDate(days(daysAhead), timeZone);
    const startsAt = zonedDateTime(date, time, timeZone);
    em.create(Appointment, { business, lead, call, startsAt, endsAt: new Date(startsAt.getTime() + 30 * 60_000), notes });
  };
  const [sarah, moshe, rachel] = created;
  const calls = [
    {
      lead: sarah!,
      startedAt: days(-2),
      durationSec: 142,
      summary: 'ד״ר שרה לוי מחיפה מעוניינת בשיפוץ מטבח מלא. נקבע ביקור להערכת מחיר.',
      city: 'חיפה',
      service: 'שיפוץ מטבח',
      extracted: { budget_ils: 60_000, urgency: 'normal' },
      turns: [
        ['agent', 'שלום שרה, ברוכה הבאה לשיפוצי הגליל. במה אפשר לעזור?'],
        ['caller', 'שלום, אני רוצה לשפץ את המטבח בדירה שלי בחיפה.'],
        ['agent', 'בשמחה. מה התקציב המשוער שלך?'],
        ['caller', 'בערך שישים אלף שקל.'],
        ['agent', 'מצוין. אפשר לקבוע ביקור להערכת מחיר ביום ראשון בעשר?'],
        ['caller', 'כן, מתאים לי.'],
      ],
    },
    {
      lead: moshe!,
      startedAt: days(-1),
      durationSec: 95,
      summary: 'משה כהן מתל אביב מבקש איטום גג דחוף לפני החורף.',
      city: 'תל אביב-יפו',
      service: 'איטום גג',
      extracted: { budget_ils: null, urgency: 'urgent' },
      turns: [
        ['agent', 'שלום משה, ברוך הבא לשיפוצי הגליל. במה אפשר לעזור?'],
        ['caller', 'יש לי נזילה מהגג ואני צריך איטום לפני הגשמים.'],
        ['agent', 'מבין, זה דחוף. איפה הבית נמצא?'],
        ['caller', 'בתל אביב.'],
      ],
    },
    {
      lead: rachel!,
      startedAt: days(-1),
      durationSec: 61,
      summary: 'רחל אברהם מירושלים שאלה על צביעת דירת ארבעה חדרים.',
      city: 'ירושלים',
      service: 'צביעת דירה',
      extracted: { budget_ils: null, urgency: 'low' },
      turns: [
        ['agent', 'שלום רחל, ברוכה הבאה לשיפוצי הגליל. במה אפשר לעזור?'],
        ['caller', 'כמה עולה לצבוע דירת ארבעה חדרים בירושלים?'],
      ],
    },
  ] as const;

  calls.forEach((call, index) => {
    const endedAt = new Date(call.startedAt.getTime() + call.durationSec * 1000);
    const turns = transcript(call.startedAt, call.turns.map(([speaker, text]) => [speaker, text]));
    const row = createFinishedCall(em, {
      business,
      lead: call.lead,
      callSid: `CAdemo${String(index + 1).padStart(28, '0')}`,
      direction: 'inbound',
      fromNumber: call.lead.phone,
      toNumber: demoPhoneNumber,
      status: 'completed',
      startedAt: call.startedAt,
      endedAt,
      durationSec: call.durationSec,
      transcriptTurns: turns,
      finalTranscript: turns.map((turn) => `${turn.speaker === 'agent' ? 'נציג' : 'לקוח'}: ${turn.text}`).join('\n'),
      summary: call.summary,
      extractedCity: call.city,
      extractedService: call.service,
      extracted: call.extracted,
      pipelineStatus: 'completed',
    });
    if (call.lead === sarah) book(call.lead, row, 3, '10:00', 'ביקור להערכת מחיר — שיפוץ מטבח');
  });
  book(moshe!, null, 4, '09:00', 'בדיקת גג לפני איטום');

  await em.flush();
  return business;
}

