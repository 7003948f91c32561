import type { EntityManager } from '@mikro-orm/postgresql';
import { firstNameOf } from '../core/names.ts';
import { zonedDate, zonedDateTime } from '../core/time.ts';
import { Appointment } from '../entities/appointment.entity.ts';
import { BusinessSettings } from '../entities/business-settings.entity.ts';
import { Business } from '../entities/business.entity.ts';
import type { Call, TranscriptTurn } from '../entities/call.entity.ts';
import { createFinishedCall } from '../entities/call-record.ts';
import { addPipelineUsage, callUsageAtEnd, emptyRealtimeTokens, percentile, type CallLatency, type CallUsage } from '../core/call-usage.ts';
import { defaultPrices } from '../core/prices.ts';
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
      ...demoLatencyAndUsage(call.durationSec, call.turns.filter(([speaker]) => speaker === 'caller').length, index),
    });
    if (call.lead === sarah) book(call.lead, row, 3, '10:00', 'ביקור להערכת מחיר — שיפוץ מטבח');
  });
  book(moshe!, null, 4, '09:00', 'בדיקת גג לפני איטום');

  await em.flush();
  return business;
}


/**
 * Plausible latency and usage for a demo call of `durationSec` with `callerTurns` turns (a
 * chart has something to draw): turns of 0.7–1.3 s, tokens as a call of that length uses
 * (caller audio 10 tokens a second, agent audio 20), priced from the built-in table.
 */
function demoLatencyAndUsage(durationSec: number, callerTurns: number, seed: number): { latency: CallLatency; usage: CallUsage } {
  const turnMs = Array.from({ length: callerTurns }, (_, turn) => 700 + ((seed * 7 + turn * 13) % 7) * 100);
  const round = (value: number | null) => (value === null ? null : Math.round(value));
  const latency: CallLatency = {
    greetingMs: 650 + seed * 40,
    turns: turnMs.length,
    turnP50Ms: round(percentile(turnMs, 0.5)),
    turnP95Ms: round(percentile(turnMs, 0.95)),
    turnMaxMs: turnMs.length > 0 ? Math.max(...turnMs) : null,
    openaiFirstAudioP50Ms: 520,
    openaiFirstAudioP95Ms: 610,
    interruptions: seed % 2,
    turnMs,
  };
  const callerSec = durationSec * 0.4;
  const agentSec = durationSec * 0.45;
  const tokens = { ...emptyRealtimeTokens(), inputAudioTokens: Math.round(callerSec * 10 * 3), inputTextTokens: 1800 * (callerTurns + 1), outputAudioTokens: Math.round(agentSec * 20), outputTextTokens: Math.round(agentSec * 3) };
  tokens.inputTokens = tokens.inputAudioTokens + tokens.inputTextTokens;
  tokens.outputTokens = tokens.outputAudioTokens + tokens.outputTextTokens;
  const atEnd = callUsageAtEnd(tokens, { inputSec: durationSec, outputSec: agentSec }, 'gpt-realtime-1.5', defaultPrices);
  const usage = addPipelineUsage(atEnd, { transcriptionSec: callerSec + agentSec, textInputTokens: 900, textOutputTokens: 180 }, { transcribeModel: 'gpt-transcribe', textModel: 'gpt-5.4-mini' }, defaultPrices);
  return { latency, usage };
}
