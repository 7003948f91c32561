import type { EntityManager } from '@mikro-orm/postgresql';
import { AppError } from '../core/errors.ts';
import type { JobQueue } from '../core/queue.ts';
import type { OutboundCallJob, OutboundJobStatus } from './outbound-call-job.entity.ts';
import { fetchPage, type Page, type PageRequest } from './page.ts';
import { sql, type Row } from './sql.ts';

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
    const lead = await sql(tx).selectFrom('Lead').select('id').where('id', '=', input.leadId).where('business', '=', input.businessId).executeTakeFirst();
    if (!lead) throw new AppError('NOT_FOUND', 'no such lead', { userMessage: 'No lead with that id.', details: { field: 'input.leadId' } });
    const job = await sql(tx)
      .insertInto('OutboundCallJob')
      .values({ business: input.businessId, lead: input.leadId, purpose: input.purpose, instructions: input.instructions ?? null, scheduledAt })
      .returningAll()
      .executeTakeFirstOrThrow();
    await queue.send('outbound.dial', { outboundJobId: job.id }, { em: tx, startAfter: scheduledAt });
    return job;
  });
}

/** Statuses after which a job never calls again. */
const finished: OutboundJobStatus[] = ['completed', 'failed', 'canceled'];

/**
 * Cancels a job of `businessId`: no further attempt is made (the dialer re-reads the status
 * before every attempt). Canceling a canceled job answers with it; a completed or failed
 * one is a CONFLICT.
 */
export async function cancelOutboundCall(em: EntityManager, businessId: string, jobId: string): Promise<Row<OutboundCallJob>> {
  const canceled = await sql(em)
    .updateTable('OutboundCallJob')
    .set({ status: 'canceled' })
    .where('id', '=', jobId)
    .where('business', '=', businessId)
    .where('status', 'not in', finished)
    .returningAll()
    .executeTakeFirst();
  if (canceled) return canceled;
  const current = await sql(em).selectFrom('OutboundCallJob').selectAll().where('id', '=', jobId).where('business', '=', businessId).executeTakeFirst();
  if (!current) throw new AppError('NOT_FOUND', 'no such outbound call job', { userMessage: 'No outbound call with that id.' });
  if (current.status === 'canceled') return current;
  throw new AppError('CONFLICT', `outbound call job is ${current.status}`, { userMessage: `The outbound call has already ${current.status === 'completed' ? 'completed' : 'failed'}.` });
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
