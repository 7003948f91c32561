import { createHash } from 'node:crypto';
import type { EntityManager, Orm } from '../core/db.ts';
import type { JobQueue } from '../core/queue.ts';
import { Call } from '../entities/call.entity.ts';
import type { CallOutcome } from './call-session.ts';

/**
 * Writes what a call produced in one transaction: status, times, duration, transcript
 * turns. When the business does not record calls, the post-call pipeline is enqueued in
 * the same transaction (with recording on, Twilio's recording callback enqueues it). The
 * job's id is the call's id, so a second trigger for the same call is a no-op.
 */
export async function persistCallOutcome(orm: Orm, queue: JobQueue, outcome: CallOutcome): Promise<void> {
  const { context } = outcome;
  await orm.em.fork().transactional(async (em) => {
    await em.nativeUpdate(
      Call,
      { id: context.callId },
      {
        status: 'completed',
        startedAt: outcome.startedAt,
        endedAt: outcome.endedAt,
        durationSec: outcome.durationSec,
        transcriptTurns: outcome.turns,
      },
    );
    if (!context.settings.recordCalls) await enqueuePipeline(queue, context.callId, em);
  });
}

/**
 * Enqueues the post-call pipeline of `callId` once per revision: the job id is the call id
 * (revision 0), or derived from it and the revision (a `reprocessCall`), so a repeated
 * trigger finds the job there and adds none.
 */
export function enqueuePipeline(queue: JobQueue, callId: string, em: EntityManager, revision = 0): Promise<string | null> {
  return queue.send('call.process', { callId }, { em, id: pipelineJobId(callId, revision) });
}

/** A UUID (version 8, name-based on SHA-256) for a call's pipeline job of one revision. */
export function pipelineJobId(callId: string, revision: number): string {
  if (revision === 0) return callId;
  const bytes = createHash('sha256').update(`call.process:${callId}:${revision}`).digest().subarray(0, 16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x80;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
