import type { EntityManager } from '@mikro-orm/postgresql';
import { retryTime } from './calling-hours.ts';
import type { EventBus } from '../core/events.ts';
import type { JobQueue } from '../core/queue.ts';
import type { AttemptOutcome, OutboundCallJob } from '../entities/outbound-call-job.entity.ts';
import { sql, type Row } from '../entities/sql.ts';
import { finish, forAttempt, onTheLine, outcomeStatus } from './dial-attempts.ts';

/**
 * How an attempt ends (dial-attempts.ts has how it starts): settled finished or retried per
 * the business's policy, its line freed for the next due job, and the consoles told.
 */

/**
 * How the attempt `callSid` of job `jobId` ended. `answered` finishes the job; a way of not
 * reaching the lead schedules the next attempt per the business's policy (in its calling
 * hours, before the job's window closes), or finishes the job with that outcome when none
 * is left. A repeated or late callback (the job has moved on) changes nothing: null.
 */
export async function settleAttempt(
  em: EntityManager,
  queue: JobQueue,
  input: { jobId: string; callSid: string | null; outcome: AttemptOutcome; error?: string | null; retryable?: boolean; now?: Date },
): Promise<Row<OutboundCallJob> | null> {
  const now = input.now ?? new Date();
  return em.fork().transactional(async (tx) => {
    let query = sql(tx).selectFrom('OutboundCallJob').selectAll().where('id', '=', input.jobId).where('status', 'in', onTheLine).forUpdate();
    if (input.callSid) query = query.where(forAttempt(input.callSid));
    const job = await query.executeTakeFirst();
    if (!job) return null;
    const error = input.error ?? null;
    if (input.callSid && !job.lastCallSid) await sql(tx).updateTable('OutboundCallJob').set({ lastCallSid: input.callSid }).where('id', '=', job.id).execute();
    // However the attempt ended, its line is free now.
    await startNextDue(tx, queue, job.business, job.id, now);
    if (input.outcome === 'answered') return finish(tx, job.id, 'completed', null, 'answered');
    const settings = await sql(tx)
      .selectFrom('BusinessSettings')
      .innerJoin('Business', 'Business.id', 'BusinessSettings.business')
      .select(['BusinessSettings.callingHours', 'BusinessSettings.callOnHolidays', 'BusinessSettings.outboundMaxAttempts', 'BusinessSettings.outboundRetrySpacingSec', 'Business.timezone'])
      .where('BusinessSettings.business', '=', job.business)
      .executeTakeFirstOrThrow();
    const policy = { maxAttempts: settings.outboundMaxAttempts, spacingMinutes: settings.outboundRetrySpacingSec / 60 };
    const next = input.retryable === false ? null : retryTime(now, job.attempts, policy, settings.callingHours, settings.timezone, { skipHolidays: !settings.callOnHolidays });
    if (!next || (job.notAfter && next >= job.notAfter)) return finish(tx, job.id, outcomeStatus(input.outcome), error, input.outcome);
    await queue.send('outbound.dial', { outboundJobId: job.id }, { em: tx, startAfter: next });
    return sql(tx)
      .updateTable('OutboundCallJob')
      .set({ status: 'queued', scheduledAt: next, lastOutcome: input.outcome, lastError: error })
      .where('id', '=', job.id)
      .returningAll()
      .executeTakeFirstOrThrow();
  });
}

/**
 * A line of `businessId` was freed: the business's next due job (the longest waiting) is
 * dialed now rather than when its safety-net look comes. It may already have a dial job
 * pending; the claim is idempotent, so the later one finds it placed and stops.
 */
export async function startNextDue(tx: EntityManager, queue: JobQueue, businessId: string, exceptJobId: string | null, now = new Date()): Promise<void> {
  let query = sql(tx)
    .selectFrom('OutboundCallJob')
    .select('id')
    .where('business', '=', businessId)
    .where('status', '=', 'queued')
    .where('scheduledAt', '<=', now)
    .orderBy('scheduledAt')
    .orderBy('id')
    .limit(1);
  if (exceptJobId) query = query.where('id', '!=', exceptJobId);
  const next = await query.executeTakeFirst();
  if (next) await queue.send('outbound.dial', { outboundJobId: next.id }, { em: tx });
}

/** Tells the business's consoles where `job` now stands (`business:outbound`). */
export function publishOutboundJob(bus: EventBus, job: Row<OutboundCallJob>): void {
  bus.publish('business:outbound', job.business, {
    type: 'outbound.updated',
    jobId: job.id,
    campaignId: job.campaign ?? null,
    status: job.status,
    attempts: job.attempts,
    scheduledAt: job.scheduledAt.toISOString(),
    lastOutcome: job.lastOutcome ?? null,
    lastError: job.lastError ?? null,
    callSid: job.lastCallSid ?? null,
    at: new Date().toISOString(),
  });
}
