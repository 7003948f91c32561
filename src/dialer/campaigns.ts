import type { EntityManager } from '@mikro-orm/postgresql';
import { dialRefusal } from '../core/dialable-numbers.ts';
import { AppError } from '../core/errors.ts';
import type { JobQueue } from '../core/queue.ts';
import type { Campaign } from '../entities/campaign.entity.ts';
import { businessDialingCountries } from '../entities/dialing-policy.repository.ts';
import { leadsMatching, type LeadFilter } from '../entities/lead.repository.ts';
import { finishedOutboundStatuses, type OutboundCallJob } from '../entities/outbound-call-job.entity.ts';
import { sql, type Row } from '../entities/sql.ts';
import { startNextDue } from './settlement.ts';

/** A campaign of `businessId`; undefined when it has none with that id. */
export function findCampaign(em: EntityManager, businessId: string, campaignId: string): Promise<Row<Campaign> | undefined> {
  return sql(em).selectFrom('Campaign').selectAll().where('id', '=', campaignId).where('business', '=', businessId).executeTakeFirst();
}

/** The jobs of a campaign, in the order they were created. */
export function campaignJobs(em: EntityManager, campaignId: string): Promise<Row<OutboundCallJob>[]> {
  return sql(em).selectFrom('OutboundCallJob').selectAll().where('campaign', '=', campaignId).orderBy('createdAt').orderBy('id').execute();
}

/** The most leads one campaign calls. */
export const maxCampaignLeads = 1000;

export interface CreateCampaignInput {
  businessId: string;
  name: string;
  purpose: string;
  instructions?: string | null;
  /** The leads to call; or, instead, every lead matching `filter`. */
  leadIds?: string[] | null;
  filter?: LeadFilter | null;
  /** Calls start at `from` (now when absent); no attempt starts after `to`. */
  window: { from?: Date | null; to?: Date | null };
}

/**
 * Creates a campaign: the campaign, one job per lead (each lead once) and each job's
 * `outbound.dial`, in one transaction. The dialer then paces them by the business's calling
 * hours and free lines. Lead ids of another business, or unknown, are NOT_FOUND.
 */
export async function createCampaign(em: EntityManager, queue: JobQueue, input: CreateCampaignInput): Promise<{ campaign: Row<Campaign>; jobs: Row<OutboundCallJob>[] }> {
  const from = input.window.from ?? new Date();
  return em.fork().transactional(async (tx) => {
    const leads = await campaignLeads(tx, input);
    if (leads.length === 0) throw new AppError('VALIDATION_FAILED', 'no leads to call', { userMessage: 'No leads match: the campaign would call nobody.', details: { field: 'input' } });
    refuseUndialable(leads, input.leadIds?.length ? 'input.leadIds' : 'input.filter', await businessDialingCountries(tx, input.businessId));
    const campaign = await sql(tx)
      .insertInto('Campaign')
      .values({ business: input.businessId, name: input.name, purpose: input.purpose, instructions: input.instructions ?? null, windowStart: from, windowEnd: input.window.to ?? null })
      .returningAll()
      .executeTakeFirstOrThrow();
    const jobs = await sql(tx)
      .insertInto('OutboundCallJob')
      .values(
        leads.map((lead) => ({
          business: input.businessId,
          lead: lead.id,
          campaign: campaign.id,
          purpose: input.purpose,
          instructions: input.instructions ?? null,
          scheduledAt: from,
          notAfter: input.window.to ?? null,
        })),
      )
      .returningAll()
      .execute();
    await queue.sendMany('outbound.dial', jobs.map((job) => ({ outboundJobId: job.id })), { em: tx, startAfter: from });
    return { campaign, jobs };
  });
}

interface CampaignLead {
  id: string;
  phone: string;
}

async function campaignLeads(tx: EntityManager, input: CreateCampaignInput): Promise<CampaignLead[]> {
  if (input.leadIds?.length) {
    const wanted = [...new Set(input.leadIds)];
    const found = await sql(tx).selectFrom('Lead').select(['id', 'phone']).where('business', '=', input.businessId).where('id', 'in', wanted).execute();
    const missing = wanted.filter((id) => !found.some((row) => row.id === id));
    if (missing.length > 0) {
      throw new AppError('NOT_FOUND', 'no such lead', { userMessage: 'No lead with that id.', details: { field: 'input.leadIds', missing } });
    }
    return wanted.map((id) => found.find((row) => row.id === id)!);
  }
  const rows = await leadsMatching(tx, input.businessId, input.filter ?? {}).select(['id', 'phone']).orderBy('createdAt').limit(maxCampaignLeads + 1).execute();
  if (rows.length > maxCampaignLeads) {
    throw new AppError('VALIDATION_FAILED', 'too many leads', { userMessage: `More than ${maxCampaignLeads} leads match; narrow the filter.`, details: { field: 'input.filter' } });
  }
  return rows;
}

/** How many refused leads a refusal names; the count says how many there are in all. */
const namedRefusals = 5;

/**
 * Refuses the whole campaign (VALIDATION_FAILED on `field`) when any lead's number may not
 * be dialed (core/dialable-numbers.ts), naming the first few leads and why: a campaign is
 * where a stolen key would dial a thousand premium numbers at once.
 */
function refuseUndialable(leads: readonly CampaignLead[], field: string, countries: readonly string[]): void {
  const refused = leads.flatMap((lead) => {
    const refusal = dialRefusal(lead.phone, countries);
    return refusal ? [`lead ${lead.id} ${refusal}`] : [];
  });
  if (refused.length === 0) return;
  const named = refused.slice(0, namedRefusals).join('; ');
  const more = refused.length > namedRefusals ? ` (and ${refused.length - namedRefusals} more)` : '';
  throw new AppError('VALIDATION_FAILED', 'campaign leads refused to dial', {
    userMessage: `${refused.length} of the leads may not be called: ${named}${more}. Remove them from the campaign.`,
    details: { field },
  });
}

/**
 * Cancels a campaign: it and every job of it not finished are canceled, so no further
 * attempt starts; a call of it ringing or in progress is hung up (`outbound.hangup`, in the
 * same transaction). Canceling twice answers with the canceled campaign.
 */
export async function cancelCampaign(em: EntityManager, queue: JobQueue, businessId: string, campaignId: string): Promise<{ campaign: Row<Campaign>; canceled: Row<OutboundCallJob>[] }> {
  return em.fork().transactional(async (tx) => {
    const campaign = await sql(tx)
      .updateTable('Campaign')
      .set({ status: 'canceled' })
      .where('id', '=', campaignId)
      .where('business', '=', businessId)
      .returningAll()
      .executeTakeFirst();
    if (!campaign) throw new AppError('NOT_FOUND', 'no such campaign', { userMessage: 'No campaign with that id.' });
    const live = await sql(tx)
      .selectFrom('OutboundCallJob')
      .select(['id', 'status', 'lastCallSid'])
      .where('campaign', '=', campaignId)
      .where('status', 'not in', finishedOutboundStatuses)
      .forUpdate()
      .execute();
    if (live.length === 0) return { campaign, canceled: [] };
    const canceled = await sql(tx)
      .updateTable('OutboundCallJob')
      .set({ status: 'canceled' })
      .where('id', 'in', live.map((job) => job.id))
      .returningAll()
      .execute();
    const ringing = live.flatMap((job) => (job.status !== 'queued' && job.lastCallSid ? [{ callSid: job.lastCallSid }] : []));
    await queue.sendMany('outbound.hangup', ringing, { em: tx });
    // Lines it held are free for the business's other calls.
    if (live.some((job) => job.status !== 'queued')) await startNextDue(tx, queue, businessId, null);
    return { campaign, canceled };
  });
}
