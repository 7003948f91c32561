import type { EntityManager } from '@mikro-orm/postgresql';
import { BusinessSettings } from '../../src/entities/business-settings.entity.ts';
import { Business } from '../../src/entities/business.entity.ts';
import { PhoneNumber } from '../../src/entities/phone-number.entity.ts';
import type { SecretBox } from '../../src/core/secret-box.ts';
import { sql } from '../../src/entities/sql.ts';
import { rotateWebhookSecret } from '../../src/entities/webhook-secret.repository.ts';
import type { TwilioApiStandIn } from '../../src/sandbox/twilio-api.server.ts';
import { conversationWavFile } from '../../src/sandbox/conversation-audio.ts';
import { benchCallSid } from './scenario.ts';

/** The number the pipeline benchmark's business answers (apart from seedScenario's). */
const businessNumber = '+97233824200';
/** Rows per insert statement: well under Postgres's 65 535 parameters per statement. */
const rowsPerInsert = 1_000;

/** What the business extracts beyond city and service, as a CRM would set it up. */
const extractionSchema = [
  { name: 'budget_nis', description: 'The budget the caller mentioned, in shekels', type: 'number' as const },
  { name: 'urgent', description: 'Whether the caller said it is urgent', type: 'boolean' as const },
];

export interface PipelineBusiness {
  businessId: string;
  /** The Standard Webhooks secret the business's receiver verifies with. */
  webhookSecret: string;
}

/**
 * A business whose inbound `call.completed` webhooks go to `webhookUrl`, with an extraction
 * schema of two fields, recording on.
 */
export async function seedPipelineBusiness(rootEm: EntityManager, webhookUrl: string, secrets: SecretBox): Promise<PipelineBusiness> {
  const em = rootEm.fork();
  const business = em.create(Business, { name: 'אינסטלציה גולן', timezone: 'Asia/Jerusalem', locale: 'he-IL' });
  em.create(PhoneNumber, { e164: businessNumber, business, label: 'קו ראשי' });
  em.create(BusinessSettings, { business, language: 'he', recordCalls: true, inboundWebhookUrl: webhookUrl, extractionSchema });
  await em.flush();
  // Sealed with the APP_SECRET the pipeline under test runs with (PipelineWorld.appSecret).
  const { secret } = await rotateWebhookSecret(em, business.id, secrets);
  return { businessId: business.id, webhookSecret: secret };
}

/** A finished call waiting for its recording callback. */
export interface SeededCall {
  callSid: string;
  recordingSid: string;
}

/**
 * `count` finished inbound calls of `businessId`, each from a lead of its own (so the save
 * step's lead update never waits on another call's row lock), with two realtime transcript
 * turns — leads and calls each in batched inserts. Each call and a completed 1 s recording
 * are registered at the Twilio stand-in, which serves the recording's WAV to whoever
 * downloads it. Call SIDs are `run`-unique: `benchCallSid(run, first + i)`.
 */
/**
 * 1 s of mono 8 kHz recording in which the caller speaks for 0.8 s: one transcription
 * request, as a short call makes (a silent one would make none — nothing is said in it).
 */
export const shortCallAudio = conversationWavFile([{ channel: 0, startSec: 0.1, lengthSec: 0.8, level: 8000 }], 1, { channels: 1 });

export async function seedFinishedCalls(
  rootEm: EntityManager,
  twilio: TwilioApiStandIn,
  businessId: string,
  options: { count: number; run: number; first: number; audio?: Buffer; channels?: 1 | 2; durationSec?: number },
): Promise<SeededCall[]> {
  const db = sql(rootEm.fork());
  const { audio = shortCallAudio, channels = 1, durationSec = 95 } = options;
  const startedAt = new Date(Date.now() - 3_600_000);
  const endedAt = new Date(startedAt.getTime() + durationSec * 1000);
  const turns = [
    { speaker: 'agent' as const, text: 'שלום, הגעת לאינסטלציה גולן. במה אפשר לעזור?', at: startedAt.toISOString() },
    { speaker: 'caller' as const, text: 'יש לי נזילה בתל אביב, זה דחוף, התקציב 500 שקל', at: new Date(startedAt.getTime() + 4_000).toISOString() },
  ];
  const seeded: SeededCall[] = [];
  for (let from = 0; from < options.count; from += rowsPerInsert) {
    const indexes = Array.from({ length: Math.min(rowsPerInsert, options.count - from) }, (_, k) => options.first + from + k);
    const phone = (i: number) => `+9725${String(options.run % 100).padStart(2, '0')}${String(i).padStart(6, '0')}`;
    const leads = await db
      .insertInto('Lead')
      .values(indexes.map((i) => ({ business: businessId, phone: phone(i), fullName: 'מיכל כהן', firstName: 'מיכל', gender: 'female' as const })))
      .returning(['id', 'phone'])
      .execute();
    const leadOf = new Map(leads.map((lead) => [lead.phone, lead.id]));
    await db
      .insertInto('Call')
      .values(
        indexes.map((i) => ({
          business: businessId,
          lead: leadOf.get(phone(i)) ?? null,
          callSid: benchCallSid(options.run, i),
          direction: 'inbound' as const,
          fromNumber: phone(i),
          toNumber: businessNumber,
          status: 'completed' as const,
          startedAt,
          endedAt,
          durationSec,
          transcriptTurns: turns,
        })),
      )
      .execute();
    seeded.push(...registerRecordings(twilio, { run: options.run, indexes, audio, channels }));
  }
  return seeded;
}

/**
 * Registers finished calls `benchCallSid(run, i)` for each of `indexes` at the Twilio
 * stand-in, each with a completed recording of `audio` (default `shortCallAudio`).
 */
export function registerRecordings(twilio: TwilioApiStandIn, options: { run: number; indexes: number[]; audio?: Buffer; channels?: 1 | 2 }): SeededCall[] {
  // One WAV for every recording: the stand-in serves the buffer, nothing copies it.
  const audio = options.audio ?? shortCallAudio;
  return options.indexes.map((i) => {
    const callSid = benchCallSid(options.run, i);
    twilio.addCall({ sid: callSid, to: businessNumber, status: 'completed' });
    return { callSid, recordingSid: twilio.addRecording({ callSid, audio, channels: options.channels ?? 1 }).sid };
  });
}
