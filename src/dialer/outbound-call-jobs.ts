import type { EntityManager } from '@mikro-orm/postgresql';
import { AppError } from '../core/errors.ts';
import type { JobQueue } from '../core/queue.ts';
import { assertDialable, businessDialingCountries } from '../entities/dialing-policy.repository.ts';
import { finishedOutboundStatuses, type OutboundCallJob, type OutboundJobStatus } from '../entities/outbound-call-job.entity.ts';
import { fetchPage, type Page, type PageRequest } from '../entities/page.ts';
import { sql, type Row } from '../entities/sql.ts';
import { startNextDue } from './settlement.ts';

export interface ScheduleOutboundCallInput {
  businessId: string;
  leadId: string;
  /** When to call; now when absent. */
  at?: Date | null;
  purpose: string;
  instructions?: string | null;
}

/**
 * Schedules a call to a lead: the job row and its `outbound.dial` job are written in one
 * transaction, so there is never a row without a dial or a dial without a row. A lead of
 * another business is NOT_FOUND.
 */
export async function scheduleOutboundCall(em: EntityManager, queue: JobQueue, input: ScheduleOutboundCallInput): Promise<Row<OutboundCallJob>> {
  const scheduledAt = input.at ?? new Date();
  return em.fork().transactional(async (tx) => {
    const lead = await sql(tx).selectFrom('Lead').select(['id', 'phone']).where('id', '=', input.leadId).where('business', '=', input.businessId).executeTakeFirst();
    if (!lead) throw new AppError('NOT_FOUND', 'no such lead', { userMessage: 'No lead with that id.', details: { field: 'input.leadId' } });
    assertDialable([{ e164: lead.phone, field: 'input.leadId', label: "The lead's number" }], await businessDialingCountries(tx, input.businessId));
    const job = await sql(tx)
      .insertInto('OutboundCallJob')
      .values({ business: input.businessId, lead: input.leadId, purpose: input.purpose, instructions: input.instructions ?? null, scheduledAt })
      .returningAll()
      .executeTakeFirstOrThrow();
    await queue.send('outbound.dial', { outboundJobId: job.id }, { em: tx, startAfter: scheduledAt });
    return job;
  });
}

/**
 * Cancels a job of `businessId`: no further attempt is made (the dialer re-reads the status
 * before every attempt), and a call of it ringing or in progress is hung up
 * (`outbound.hangup`, in the same transaction). Canceling a canceled job answers with it;
 * a finished one is a CONFLICT.
 */
export async function cancelOutboundCall(em: EntityManager, queue: JobQueue, businessId: string, jobId: string): Promise<Row<OutboundCallJob>> {
  return em.fork().transactional(async (tx) => {
    const current = await sql(tx).selectFrom('OutboundCallJob').selectAll().where('id', '=', jobId).where('business', '=', businessId).forUpdate().executeTakeFirst();
    if (!current) throw new AppError('NOT_FOUND', 'no such outbound call job', { userMessage: 'No outbound call with that id.' });
    if (current.status === 'canceled') return current;
    if (finishedOutboundStatuses.includes(current.status)) {
      throw new AppError('CONFLICT', `outbound call job is ${current.status}`, { userMessage: `The outbound call has already finished (${current.status}).` });
    }
    const canceled = await sql(tx).updateTable('OutboundCallJob').set({ status: 'canceled' }).where('id', '=', jobId).returningAll().executeTakeFirstOrThrow();
    if (current.status !== 'queued') {
      if (current.lastCallSid) await queue.send('outbound.hangup', { callSid: current.lastCallSid }, { em: tx });
      await startNextDue(tx, queue, businessId, null);
    }
    return canceled;
  });
}

/** A page of a business's outbound call jobs, newest first. */
export async function listOutboundCallJobs(
  em: EntityManager,
  businessId: string,
  status: OutboundJobStatus[] | null | undefined,
  page: PageRequest,
): Promise<Page<Row<OutboundCallJob>>> {
  let query = sql(em).selectFrom('OutboundCallJob').where('business', '=', businessId);
  if (status?.length) query = query.where('status', 'in', status);
  return fetchPage(query, 'OutboundCallJob', page);
}
