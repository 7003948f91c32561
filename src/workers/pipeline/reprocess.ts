import type { EntityManager } from '@mikro-orm/postgresql';
import { AppError } from '../../core/errors.ts';
import type { JobQueue } from '../../core/queue.ts';
import type { Call } from '../../entities/call.entity.ts';
import { reopenPipeline } from '../../entities/call-record.ts';
import { sql, type Row } from '../../entities/sql.ts';
import { enqueuePipeline } from '../../core/jobs.ts';

/**
 * Runs a finished call's post-call pipeline again from the first step, as a new revision:
 * its results replace the call's and go out as a new `call.completed` webhook (a new
 * `webhook-id`, `revision` in the body). A run of the previous revision still in flight
 * stops at its next write. The revision bump and the job are one transaction.
 */
export async function reprocessCall(em: EntityManager, queue: JobQueue, businessId: string, callId: string): Promise<Row<Call>> {
  return em.transactional(async (tx) => {
    const call = await reopenPipeline(tx, businessId, callId);
    if (!call) {
      const existing = await sql(tx).selectFrom('Call').select(['status', 'contentDeletedAt']).where('id', '=', callId).where('business', '=', businessId).executeTakeFirst();
      if (!existing) throw new AppError('NOT_FOUND', 'no such call', { userMessage: 'No call with that id.' });
      if (existing.contentDeletedAt !== null) {
        throw new AppError('CONFLICT', 'call content deleted', { userMessage: 'The call’s transcript and summary were deleted (retention or erasure); there is nothing to process.' });
      }
      throw new AppError('CONFLICT', 'call still live', { userMessage: 'The call is still in progress; it is processed when it ends.' });
    }
    await enqueuePipeline(queue, call.id, tx, { revision: call.pipelineRevision });
    return call;
  });
}
