import type { EntityManager } from '@mikro-orm/postgresql';
import { sql as raw, type ExpressionBuilder } from 'kysely';
import { nextCallingTime } from './calling-hours.ts';
import { dialRefusal } from '../core/dialable-numbers.ts';
import { AppError } from '../core/errors.ts';
import type { JobQueue } from '../core/queue.ts';
import { insertPlacedCall } from '../entities/call-record.ts';
import { businessDialingCountries } from '../entities/dialing-policy.repository.ts';
import type { AttemptOutcome, OutboundCallJob, OutboundJobStatus } from '../entities/outbound-call-job.entity.ts';
import { sql, type Database, type Row } from '../entities/sql.ts';

/**
 * The life of one outbound call attempt, as rows: the dialer claims an attempt (checking
 * calling hours and the business's concurrency under a lock every worker respects), the
 * placed call is written down, and Twilio's final status settles it (settlement.ts) —
 * finished, or retried per the business's policy. Every function here is one transaction.
 *
 * The dialer's room (src/dialer/): an attempt flows scheduled (outbound-call-jobs.ts, or a
 * campaign's leads: campaigns.ts) → claimed (`claimDialAttempt`, within calling hours and
 * the business's free lines) → dialing (`recordPlacedCall`, `notePlacedCall`) → settled
 * (`settleAttempt` in settlement.ts, from Twilio's status callback: twilio-status.ts) →
 * retried (`retryTime`, calling-hours.ts) or finished, which frees a line for the
 * next due job (`startNextDue`). The pg-boss handlers driving it are in workers/outbound/.
 */

/**
 * How soon a job that found every line of its business busy looks again, at the latest.
 * Normally sooner: a line that frees starts the next due job at once (`startNextDue`), so
 * this is only the safety net — and long enough that a big campaign waiting for two lines
 * does not keep the queue busy re-scheduling itself.
 */
export const lineBusyRetryMs = 60_000;

/**
 * A job holds its line at most this long past the call's time limit: if Twilio's final
 * status callback never arrives, the line is not lost for good.
 */
const lineHoldGraceSec = 300;

/** Job statuses that hold one of the business's outbound lines. */
export const onTheLine: OutboundJobStatus[] = ['dialing', 'in-progress'];

/**
 * A claimed attempt names its call within seconds (Twilio's `initiated` callback or the
 * dialer's own write). One still nameless after this long was lost with its worker
 * mid-dial: its job may be claimed again.
 */
export const abandonedClaimMs = 60_000;

/** Thrown for a job whose attempt is being placed right now: the dial job retries later. */
export class AttemptInFlightError extends AppError {
  constructor(jobId: string) {
    super('CONFLICT', `outbound job ${jobId} has an attempt being placed`);
  }
}

export type DialDecision =
  | { action: 'skip'; reason: string }
  | { action: 'later'; job: Row<OutboundCallJob>; at: Date; reason: 'calling hours' | 'lines busy' }
  | { action: 'closed'; job: Row<OutboundCallJob> }
  /** The lead's number may not be dialed (core/dialable-numbers.ts): the job failed for good. */
  | { action: 'refused'; job: Row<OutboundCallJob>; reason: string }
  | { action: 'dial'; job: Row<OutboundCallJob>; to: string; from: string | null; voicemailMessage: string | null };

/**
 * Decides, for a due `outbound.dial` job, whether to place the call now. Outside calling
 * hours the job moves to the next window; with all the business's lines taken it looks
 * again shortly (neither uses up an attempt); past its window it ends; a number the business
 * may not dial fails it, with the reason. Otherwise it takes a line (status `dialing`, one
 * more attempt). The per-business advisory lock makes the count-then-take atomic across
 * every worker process.
 */
export async function claimDialAttempt(em: EntityManager, queue: JobQueue, jobId: string, now = new Date()): Promise<DialDecision> {
  return em.fork().transactional(async (tx) => {
    let job = await sql(tx).selectFrom('OutboundCallJob').selectAll().where('id', '=', jobId).forUpdate().executeTakeFirst();
    if (!job) return { action: 'skip', reason: 'the job is gone' };
    if (job.status === 'dialing' && !job.lastCallSid) {
      // Either another worker is placing it now, or one died doing so: then the job is
      // queued again (freeing its line) and goes on like any due job.
      if (now.getTime() - job.updatedAt.getTime() < abandonedClaimMs) throw new AttemptInFlightError(job.id);
      job = await sql(tx).updateTable('OutboundCallJob').set({ status: 'queued' }).where('id', '=', job.id).returningAll().executeTakeFirstOrThrow();
    } else if (job.status !== 'queued') return { action: 'skip', reason: `the job is ${job.status}` };
    // A dial job ahead of its time is a spare (a line freed while another was pending): the
    // one scheduled for `scheduledAt` will come.
    if (job.scheduledAt.getTime() > now.getTime() + 1_000) return { action: 'skip', reason: 'not due yet' };
    if (job.notAfter && now >= job.notAfter) {
      const closed = await finish(tx, job.id, job.lastOutcome ? outcomeStatus(job.lastOutcome) : 'canceled', job.lastOutcome ? job.lastError : 'the campaign window closed before the call was placed');
      return { action: 'closed', job: closed };
    }
    // Checked again at every dial, not only when scheduled: the lead may predate the rule,
    // or the business's allowed countries may have changed since.
    const lead = await sql(tx).selectFrom('Lead').select('phone').where('id', '=', job.lead).executeTakeFirstOrThrow();
    const refusal = dialRefusal(lead.phone, await businessDialingCountries(tx, job.business));
    if (refusal) {
      const reason = `refused to dial: the lead's number ${refusal}`;
      return { action: 'refused', job: await finish(tx, job.id, 'failed', reason), reason };
    }
    const settings = await sql(tx)
      .selectFrom('BusinessSettings')
      .innerJoin('Business', 'Business.id', 'BusinessSettings.business')
      .select(['BusinessSettings.callingHours', 'BusinessSettings.callOnHolidays', 'BusinessSettings.outboundMaxConcurrent', 'BusinessSettings.maxCallDurationSec', 'BusinessSettings.voicemailMessage', 'Business.timezone'])
      .where('BusinessSettings.business', '=', job.business)
      .executeTakeFirstOrThrow();
    const allowed = nextCallingTime(now, settings.callingHours, settings.timezone, { skipHolidays: !settings.callOnHolidays });
    if (allowed.getTime() > now.getTime()) return { action: 'later', job: await postpone(tx, queue, job, allowed, true), at: allowed, reason: 'calling hours' };

    await raw`select pg_advisory_xact_lock(hashtextextended(${`outbound-lines:${job.business}`}, 0))`.execute(sql(tx));
    const { busy } = await sql(tx)
      .selectFrom('OutboundCallJob')
      .select((eb) => eb.fn.countAll<string>().as('busy'))
      .where('business', '=', job.business)
      .where('status', 'in', onTheLine)
      .where('updatedAt', '>', new Date(now.getTime() - (settings.maxCallDurationSec + lineHoldGraceSec) * 1000))
      .executeTakeFirstOrThrow();
    if (Number(busy) >= settings.outboundMaxConcurrent) {
      // Spread the waiting jobs' safety-net looks over a tenth of the interval.
      const at = new Date(now.getTime() + lineBusyRetryMs * (1 + Math.random() / 10));
      return { action: 'later', job: await postpone(tx, queue, job, at, false), at, reason: 'lines busy' };
    }

    const dialing = await sql(tx)
      .updateTable('OutboundCallJob')
      .set((eb) => ({ status: 'dialing', attempts: eb('attempts', '+', 1), lastError: null, lastCallSid: null }))
      .where('id', '=', job.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    const number = await sql(tx).selectFrom('PhoneNumber').select('e164').where('business', '=', job.business).orderBy('createdAt').orderBy('e164').limit(1).executeTakeFirst();
    return { action: 'dial', job: dialing, to: lead.phone, from: number?.e164 ?? null, voicemailMessage: settings.voicemailMessage ?? null };
  });
}

/**
 * The next dial of `job` at `at`. `due` moves the job's own `scheduledAt` (a new window);
 * a look-again for a free line leaves it as it is.
 */
async function postpone(tx: EntityManager, queue: JobQueue, job: Row<OutboundCallJob>, at: Date, due: boolean): Promise<Row<OutboundCallJob>> {
  await queue.send('outbound.dial', { outboundJobId: job.id }, { em: tx, startAfter: at });
  if (!due) return job;
  return sql(tx).updateTable('OutboundCallJob').set({ scheduledAt: at }).where('id', '=', job.id).returningAll().executeTakeFirstOrThrow();
}

/**
 * Reserves the next free send slot of the global calls-per-second budget and returns when
 * it is. One UPDATE on one row: concurrent dialers in any process get distinct slots.
 */
export async function reserveDialSlot(em: EntityManager, callsPerSecond: number): Promise<Date> {
  const spacingMs = Math.ceil(1000 / callsPerSecond);
  const { slot } = await sql(em)
    .updateTable('DialerPace')
    .set({ nextSlotAt: raw<Date>`greatest("next_slot_at", now()) + make_interval(secs => ${spacingMs / 1000})` })
    .where('id', '=', 1)
    .returning(raw<Date>`"next_slot_at" - make_interval(secs => ${spacingMs / 1000})`.as('slot'))
    .executeTakeFirstOrThrow();
  return new Date(slot);
}

/**
 * Gives back a claimed attempt that cannot go ahead soon (the global pace is booked far
 * ahead): the job is queued again for `at`, its line freed, the attempt not counted.
 */
export async function releaseClaim(em: EntityManager, queue: JobQueue, jobId: string, at: Date): Promise<void> {
  await em.fork().transactional(async (tx) => {
    const released = await sql(tx)
      .updateTable('OutboundCallJob')
      .set((eb) => ({ status: 'queued', attempts: eb('attempts', '-', 1) }))
      .where('id', '=', jobId)
      .where('status', '=', 'dialing')
      .returning('id')
      .executeTakeFirst();
    if (released) await queue.send('outbound.dial', { outboundJobId: jobId }, { em: tx, startAfter: at });
  });
}

/** Whether the attempt claimed for `jobId` may still go ahead (the job was not canceled meanwhile). */
export async function stillDialing(em: EntityManager, jobId: string): Promise<boolean> {
  const row = await sql(em).selectFrom('OutboundCallJob').select('status').where('id', '=', jobId).executeTakeFirst();
  return row?.status === 'dialing';
}

/**
 * Twilio accepted the call: the Call row (unless the voice webhook already wrote it) and
 * the job's `lastCallSid`, in one transaction.
 */
export async function recordPlacedCall(em: EntityManager, job: Row<OutboundCallJob>, call: { callSid: string; from: string; to: string }): Promise<Row<OutboundCallJob>> {
  return em.fork().transactional(async (tx) => {
    await insertPlacedCall(tx, { business: job.business, lead: job.lead, outboundJob: job.id, callSid: call.callSid, fromNumber: call.from, toNumber: call.to });
    return sql(tx).updateTable('OutboundCallJob').set({ lastCallSid: call.callSid }).where('id', '=', job.id).returningAll().executeTakeFirstOrThrow();
  });
}

/**
 * Twilio's callbacks can overtake the dialer's own write of the call it just placed: a
 * callback counts for the attempt in flight when the job names no call yet, or this one.
 */
export const forAttempt = (callSid: string) => (eb: ExpressionBuilder<Database, 'OutboundCallJob'>) =>
  eb.or([eb('lastCallSid', 'is', null), eb('lastCallSid', '=', callSid)]);

/** Twilio reports the attempt's call placed (`initiated`, `ringing`): the job names it, if it did not yet. */
export async function notePlacedCall(em: EntityManager, jobId: string, callSid: string): Promise<void> {
  await sql(em).updateTable('OutboundCallJob').set({ lastCallSid: callSid }).where('id', '=', jobId).where('status', '=', 'dialing').where('lastCallSid', 'is', null).execute();
}

/** The lead picked up (or a machine did; the final status decides): the job is in progress. */
export async function markAnswered(em: EntityManager, jobId: string, callSid: string): Promise<Row<OutboundCallJob> | null> {
  const row = await sql(em)
    .updateTable('OutboundCallJob')
    .set({ status: 'in-progress', lastCallSid: callSid })
    .where('id', '=', jobId)
    .where(forAttempt(callSid))
    .where('status', '=', 'dialing')
    .returningAll()
    .executeTakeFirst();
  return row ?? null;
}

/** The job's final status for an attempt that did not reach the lead. */
export function outcomeStatus(outcome: AttemptOutcome): OutboundJobStatus {
  if (outcome === 'answered') return 'completed';
  if (outcome === 'voicemail') return 'no-answer';
  return outcome;
}

/** Ends the job for good with `status` (and the attempt's outcome, when there was one). */
export async function finish(tx: EntityManager, jobId: string, status: OutboundJobStatus, error: string | null, outcome?: AttemptOutcome): Promise<Row<OutboundCallJob>> {
  return sql(tx)
    .updateTable('OutboundCallJob')
    .set({ status, lastError: error, ...(outcome ? { lastOutcome: outcome } : {}) })
    .where('id', '=', jobId)
    .returningAll()
    .executeTakeFirstOrThrow();
}
