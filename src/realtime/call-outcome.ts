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

/** Enqueues the post-call pipeline of `callId` once: the job id is the call id. */
export function enqueuePipeline(queue: JobQueue, callId: string, em: EntityManager): Promise<string | null> {
  return queue.send('call.process', { callId }, { em, id: callId });
}
