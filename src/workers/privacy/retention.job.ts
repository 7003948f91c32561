import type { EntityManager } from '../../core/db.ts';
import { AppError } from '../../core/errors.ts';
import type { JobContext, JobHandler } from '../../core/queue.ts';
import type { Services } from '../../core/services.ts';
import { sql } from '../../entities/sql.ts';
import { clearCallContent } from '../../entities/call-content.ts';
import { RecordingDeletion, type RecordedCall, type RecordingDeletionResult } from '../../entities/recording-deletion.ts';

/** Rows one statement reads or changes at most: a business with 100k old calls is worked through in batches. */
export const RETENTION_BATCH = 200;
const DAY_MS = 86_400_000;

interface Totals {
  recordingsDeleted: number;
  recordingsFailed: number;
  callsCleared: number;
}

/**
 * The `privacy.retention` job: for each business, deletes the recordings of its calls
 * created more than `recordingRetentionDays` ago (at Twilio first, then here), and clears
 * the transcripts, summaries, extracted fields, timelines and webhook payloads of its calls
 * created more than `transcriptRetentionDays` ago. Calls keep their anonymous facts.
 *
 * Businesses, calls and recordings are read in batches of RETENTION_BATCH. A second run finds
 * nothing more to do. A recording Twilio did not delete stays, and this attempt then fails
 * (retryable) once every other one has been seen to, so the queue retries just those.
 */
export function applyRetention(services: Services): JobHandler<'privacy.retention'> {
  return async (_payload, context) => {
    const deletion = new RecordingDeletion(services.config, context.logger, services.metrics);
    const em = services.orm.em.fork();
    const now = Date.now();
    const totals: Totals = { recordingsDeleted: 0, recordingsFailed: 0, callsCleared: 0 };
    let after: string | null = null;
    for (;;) {
      const position: string | null = after;
      const businesses: { business: string; recordingRetentionDays: number; transcriptRetentionDays: number }[] = await sql(em)
        .selectFrom('BusinessSettings')
        .select(['business', 'recordingRetentionDays', 'transcriptRetentionDays'])
        .$if(position !== null, (query) => query.where('business', '>', position!))
        .orderBy('business')
        .limit(RETENTION_BATCH)
        .execute();
      for (const settings of businesses) {
        const recordings = await deleteOldRecordings(em, deletion, settings.business, new Date(now - settings.recordingRetentionDays * DAY_MS), context);
        totals.recordingsDeleted += recordings.deleted;
        totals.recordingsFailed += recordings.failed;
        totals.callsCleared += await clearOldContent(em, settings.business, new Date(now - settings.transcriptRetentionDays * DAY_MS), context);
      }
      if (businesses.length < RETENTION_BATCH) break;
      after = businesses.at(-1)?.business ?? null;
    }
    context.logger.info(totals, 'retention applied');
    if (totals.recordingsFailed > 0) {
      throw new AppError('UPSTREAM_FAILED', `${totals.recordingsFailed} recordings were not deleted at Twilio; they are tried again`, { retryable: true });
    }
  };
}

/** The business's recordings older than `cutoff`, by (createdAt, id): each is seen once per run, deleted or not. */
async function deleteOldRecordings(em: EntityManager, deletion: RecordingDeletion, businessId: string, cutoff: Date, context: JobContext): Promise<RecordingDeletionResult> {
  const result = { deleted: 0, failed: 0 };
  let after: { createdAt: Date; id: string } | null = null;
  for (;;) {
    stopWhenAborted(context);
    const position: { createdAt: Date; id: string } | null = after;
    const rows: { id: string; createdAt: Date; recordingSid: string | null; recordingUrl: string | null }[] = await sql(em)
      .selectFrom('Call')
      .select(['id', 'createdAt', 'recordingSid', 'recordingUrl'])
      .where('business', '=', businessId)
      .where('createdAt', '<', cutoff)
      .where('recordingDeletedAt', 'is', null)
      .where((eb) => eb.or([eb('recordingSid', 'is not', null), eb('recordingUrl', 'is not', null)]))
      .$if(position !== null, (query) =>
        query.where((eb) => eb.or([eb('createdAt', '>', position!.createdAt), eb.and([eb('createdAt', '=', position!.createdAt), eb('id', '>', position!.id)])])),
      )
      .orderBy('createdAt')
      .orderBy('id')
      .limit(RETENTION_BATCH)
      .execute();
    const calls: RecordedCall[] = rows.map((row) => ({ id: row.id, recordingSid: row.recordingSid ?? recordingSidOf(row.recordingUrl) }));
    const batch = await deletion.deleteRecordings(em, calls);
    result.deleted += batch.deleted;
    result.failed += batch.failed;
    const last = rows.at(-1);
    if (!last || rows.length < RETENTION_BATCH) return result;
    after = { createdAt: last.createdAt, id: last.id };
  }
}

/** Clears the content of the business's calls older than `cutoff`, a batch at a time; cleared calls drop out of the query. */
async function clearOldContent(em: EntityManager, businessId: string, cutoff: Date, context: JobContext): Promise<number> {
  let cleared = 0;
  for (;;) {
    stopWhenAborted(context);
    const rows = await sql(em)
      .selectFrom('Call')
      .select('id')
      .where('business', '=', businessId)
      .where('createdAt', '<', cutoff)
      .where('contentDeletedAt', 'is', null)
      .orderBy('createdAt')
      .limit(RETENTION_BATCH)
      .execute();
    await clearCallContent(em, rows.map((row) => row.id));
    cleared += rows.length;
    if (rows.length < RETENTION_BATCH) return cleared;
  }
}

/** The recording SID at the end of a Twilio recording URL (`…/Recordings/RE…`), or null. */
export function recordingSidOf(url: string | null): string | null {
  return url === null ? null : (/\/Recordings\/(RE[0-9a-f]{32})(?:\.\w+)?$/.exec(url)?.[1] ?? null);
}

function stopWhenAborted(context: JobContext): void {
  if (context.signal.aborted) throw new AppError('INTERNAL', 'retention stopped: the queue is shutting down; the retry goes on from here', { retryable: true });
}
