import type { EntityManager } from '../core/db.ts';
import { AppError } from '../core/errors.ts';
import { replacePersonsNumber } from './call-record.ts';
import { erasedLeadPhone, type Lead } from './lead.entity.ts';
import { sql, type Row } from './sql.ts';
import { clearCallContent } from './call-content.ts';
import type { RecordingDeletion } from './recording-deletion.ts';

/**
 * Everything stored about one person (Amendment 13's right of access): the lead; every call
 * linked to it or made from / to its number, with transcripts, summary, extracted fields,
 * timeline and recording reference; the downloaded recordings' sizes (the audio stays at
 * the recording URL); appointments; outbound call jobs; webhook deliveries of those calls
 * with their payloads and attempts.
 */
export interface LeadDataExport {
  exportedAt: Date;
  lead: Row<Lead>;
  calls: unknown[];
  storedRecordings: { callId: string; contentType: string; bytes: number; downloadedAt: Date }[];
  appointments: unknown[];
  outboundCallJobs: unknown[];
  webhookDeliveries: unknown[];
}

export interface LeadErasure {
  lead: Row<Lead>;
  /** Calls whose content and caller number were removed. */
  callsErased: number;
  /** Recordings deleted, at Twilio and here. */
  recordingsDeleted: number;
  /** Recordings Twilio did not confirm deleted: erasing again (harmless) retries them. */
  recordingsPending: number;
}

/** The lead of this business, or NOT_FOUND — another business's lead looks like none. */
async function ownLead(em: EntityManager, businessId: string, leadId: string): Promise<Row<Lead>> {
  const lead = await sql(em).selectFrom('Lead').selectAll().where('id', '=', leadId).where('business', '=', businessId).executeTakeFirst();
  if (!lead) throw new AppError('NOT_FOUND', 'lead not found', { userMessage: 'No lead with that id.' });
  return lead;
}

/** The person's calls: linked to the lead, or with its number on the caller's side (inbound from, outbound to). */
function callsOf(em: EntityManager, lead: Row<Lead>) {
  return sql(em)
    .selectFrom('Call')
    .where('business', '=', lead.business)
    .where((eb) =>
      eb.or([
        eb('lead', '=', lead.id),
        eb.and([eb('direction', '=', 'inbound'), eb('fromNumber', '=', lead.phone)]),
        eb.and([eb('direction', '=', 'outbound'), eb('toNumber', '=', lead.phone)]),
      ]),
    );
}

/** Everything stored about the lead `leadId` of `businessId`, as JSON-ready rows. */
export async function exportLeadData(em: EntityManager, businessId: string, leadId: string): Promise<LeadDataExport> {
  const lead = await ownLead(em, businessId, leadId);
  const calls = await callsOf(em, lead).selectAll().orderBy('createdAt').execute();
  const callIds = calls.map((call) => call.id);
  const none = callIds.length === 0;
  const [storedRecordings, appointments, outboundCallJobs, webhookDeliveries] = await Promise.all([
    none
      ? []
      : sql(em)
          .selectFrom('CallRecording')
          .select((eb) => ['call as callId', 'contentType', eb.fn<number>('octet_length', ['audio']).as('bytes'), 'downloadedAt'])
          .where('call', 'in', callIds)
          .execute(),
    sql(em).selectFrom('Appointment').selectAll().where('lead', '=', lead.id).where('business', '=', businessId).orderBy('startsAt').execute(),
    sql(em).selectFrom('OutboundCallJob').selectAll().where('lead', '=', lead.id).where('business', '=', businessId).orderBy('createdAt').execute(),
    none
      ? []
      : sql(em)
          .selectFrom('WebhookDelivery')
          .select(['id', 'call', 'event', 'url', 'payload', 'attempts', 'status', 'revision', 'deliveredAt', 'createdAt'])
          .where('call', 'in', callIds)
          .orderBy('createdAt')
          .execute(),
  ]);
  return { exportedAt: new Date(), lead, calls, storedRecordings, appointments, outboundCallJobs, webhookDeliveries };
}

/**
 * Erases the person behind lead `leadId` of `businessId` (Amendment 13's right to deletion):
 * the lead keeps its row — so calls and appointments still point somewhere and still count —
 * with a placeholder phone (`erasedLeadPhone`) and no name, gender, city, service or notes;
 * its calls lose their transcripts, summaries, extracted fields, timelines, webhook
 * deliveries and the caller's number, and their recordings are deleted at Twilio and here;
 * appointments lose their notes; outbound jobs lose their purpose and instructions, and
 * those still queued are canceled. Repeating it is harmless and retries recordings Twilio
 * did not confirm deleted.
 */
export async function eraseLead(em: EntityManager, deletion: RecordingDeletion, businessId: string, leadId: string): Promise<LeadErasure> {
  const found = await ownLead(em, businessId, leadId);
  const placeholder = erasedLeadPhone(found.id);
  const { lead, callIds } = await em.transactional(async (tx) => {
    const callIds = (await callsOf(tx, found).select('id').forUpdate().execute()).map((call) => call.id);
    if (callIds.length > 0) {
      await replacePersonsNumber(tx, callIds, found.id, placeholder);
      await clearCallContent(tx, callIds, { extractedCategories: true });
    }
    await sql(tx).updateTable('Appointment').set({ notes: null }).where('lead', '=', found.id).execute();
    // A queued call to the person is not placed (the dialer checks the status before dialing).
    await sql(tx).updateTable('OutboundCallJob').set({ status: 'canceled' }).where('lead', '=', found.id).where('status', '=', 'queued').execute();
    await sql(tx).updateTable('OutboundCallJob').set({ purpose: '', instructions: null, lastError: null }).where('lead', '=', found.id).execute();
    const lead = await sql(tx)
      .updateTable('Lead')
      .set({ phone: placeholder, fullName: null, firstName: null, gender: null, city: null, serviceCategory: null, notes: null, erasedAt: found.erasedAt ?? new Date() })
      .where('id', '=', found.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    return { lead, callIds };
  });
  const recorded = await sql(em)
    .selectFrom('Call')
    .select(['id', 'recordingSid'])
    .where('lead', '=', lead.id)
    .where('recordingDeletedAt', 'is', null)
    .where((eb) => eb.or([eb('recordingSid', 'is not', null), eb('recordingUrl', 'is not', null)]))
    .execute();
  const recordings = await deletion.deleteRecordings(em, recorded);
  return { lead, callsErased: callIds.length, recordingsDeleted: recordings.deleted, recordingsPending: recordings.failed };
}
