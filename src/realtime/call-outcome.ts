import type { EntityManager, Orm } from '../core/db.ts';
import { enqueuePipeline, reconcileJobId } from '../core/jobs.ts';
import type { JobQueue } from '../core/queue.ts';
import { normalizeCity } from '../core/cities.ts';
import { firstNameOf } from '../core/names.ts';
import { sql as raw } from 'kysely';
import { endCall, openOfflineCall } from '../entities/call-record.ts';
import { ensureLead } from '../entities/lead.repository.ts';
import type { OfflineCallOpen } from './call-context.ts';
import { sql } from '../entities/sql.ts';
import type { CallOutcome } from './session/call-session.ts';
import type { LeadCapture } from './agent/tools/call-tools.ts';

/**
 * What the end of a call writes: the call's outcome without its context (the business's
 * settings, prompts and slots), so that it can wait in memory, or on disk, for Postgres.
 */
export interface CallEndWrite {
  callId: string;
  /** The lead the call was with, whose captured details are written. */
  leadId: string | null;
  startedAt: Date;
  endedAt: Date;
  durationSec: number;
  turns: CallOutcome['turns'];
  reason: string;
  failed: boolean;
  timeline: CallOutcome['timeline'];
  lead: LeadCapture;
  recordingStarted: boolean;
  /** The call was answered while Postgres was unreachable: its row is written first, from this. */
  open?: OfflineCallOpen;
  /** How long the caller waited; null in a spill file written before it was measured. */
  latency: CallOutcome['latency'] | null;
  /** What the call used and cost; null likewise. */
  usage: CallOutcome['usage'] | null;
  /** The call span's W3C traceparent: the post-call jobs join the call's trace. */
  traceparent?: string;
}

/** The row of a call answered while Postgres was unreachable, written as soon as it is back (its end may come later). */
export interface CallOpenWrite {
  kind: 'open';
  callId: string;
  open: OfflineCallOpen;
}

/** What PendingCallWrites keeps for a call: its row to open, or its end. */
export type CallWrite = CallEndWrite | CallOpenWrite;

/** The end-of-call write of a finished call. */
export function callEndWriteOf(outcome: CallOutcome): CallEndWrite {
  const { context, startedAt, endedAt, durationSec, turns, reason, failed, timeline, lead, recordingStarted, latency, usage, traceparent } = outcome;
  const write = { callId: context.callId, leadId: context.lead?.id ?? null, startedAt, endedAt, durationSec, turns, reason, failed, timeline, lead, recordingStarted, latency, usage, traceparent };
  return context.offline ? { ...write, open: context.offline } : write;
}

/** Writes `write`: a call's row answered offline (openCallRow), or its end (persistCallOutcome). */
export async function persistCallWrite(orm: Orm, queue: JobQueue, write: CallWrite, options: { recordingCallbackGraceSec: number }): Promise<void> {
  if ('kind' in write) await orm.em.fork().transactional((em) => openCallRow(em, write.callId, write.open));
  else await persistCallOutcome(orm, queue, write, options);
}

/**
 * The row of a call answered while Postgres was unreachable, with its lead (found or
 * created by the caller's number), in the caller's transaction. The call's id and lead as
 * stored: the id is `callId` unless the voice webhook's own write had reached Postgres.
 */
export async function openCallRow(em: EntityManager, callId: string, open: OfflineCallOpen): Promise<{ id: string; lead: string | null }> {
  const lead = open.leadPhone ? await ensureLead(em, open.businessId, open.leadPhone) : null;
  const { businessId, callSid, fromNumber, toNumber, arrivedAt } = open;
  return openOfflineCall(em, { id: callId, business: businessId, lead, callSid, fromNumber, toNumber, createdAt: arrivedAt });
}

/**
 * Writes what a call produced in one transaction: the call's end (`endCall`: status —
 * failed when the voice agent was lost —, times, duration, transcript turns, timeline, why
 * it ended, latency and usage; only the first end of a call is written), and the lead details
 * the agent captured (first name derived from a captured full name, city normalised, notes
 * appended). In the same transaction, the call's way to the post-call pipeline: a call
 * Twilio is not recording (recording off, or it could not start) enqueues the pipeline now;
 * a recorded one waits for Twilio's recording callback, and enqueues the safety net that
 * reconciles it if the callback has not come `recordingCallbackGraceSec` after the end.
 * The pipeline job's id is the call's id, so a second trigger for the same call is a no-op.
 * Repeating the whole write (a retry after Postgres came back) therefore changes nothing.
 */
export async function persistCallOutcome(orm: Orm, queue: JobQueue, write: CallEndWrite, options: { recordingCallbackGraceSec: number }): Promise<void> {
  await orm.em.fork().transactional(async (em) => {
    // Answered offline: the row first (its id and lead may be the ones the webhook wrote).
    const opened = write.open ? await openCallRow(em, write.callId, write.open) : null;
    const callId = opened?.id ?? write.callId;
    const leadId = opened ? opened.lead : write.leadId;
    const ended = await endCall(em, callId, {
      status: write.failed ? 'failed' : 'completed',
      reason: write.reason,
      startedAt: write.startedAt,
      endedAt: write.endedAt,
      durationSec: write.durationSec,
      turns: write.turns,
      timeline: write.timeline,
      latency: write.latency,
      usage: write.usage,
    });
    // Another end came first (it wrote what the call produced): the lead is left as it made it.
    const leadChanges = ended ? capturedLeadChanges(write.lead) : null;
    if (leadId && leadChanges) {
      const notes = write.lead.notes?.join('\n');
      await sql(em)
        .updateTable('Lead')
        .set({ ...leadChanges, ...(notes ? { notes: raw<string>`concat_ws(E'\n', "notes", ${notes}::text)` } : {}) })
        .where('id', '=', leadId)
        .execute();
    }
    const { traceparent } = write;
    if (!write.recordingStarted) await enqueuePipeline(queue, callId, em, { traceparent });
    else {
      const startAfter = new Date(write.endedAt.getTime() + options.recordingCallbackGraceSec * 1000);
      await queue.send('recording.reconcile', { callId }, { em, startAfter, id: reconcileJobId(callId), traceparent });
    }
  });
}

/** The lead columns the captured details set; null when nothing was captured. */
function capturedLeadChanges(lead: LeadCapture): { fullName?: string; firstName?: string; city?: string; serviceCategory?: string } | null {
  const changes: { fullName?: string; firstName?: string; city?: string; serviceCategory?: string } = {};
  if (lead.name) {
    changes.fullName = lead.name;
    const firstName = firstNameOf(lead.name);
    if (firstName) changes.firstName = firstName;
  }
  const city = normalizeCity(lead.city);
  if (city) changes.city = city;
  if (lead.service) changes.serviceCategory = lead.service;
  return Object.keys(changes).length > 0 || (lead.notes?.length ?? 0) > 0 ? changes : null;
}
