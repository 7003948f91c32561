import type { RecordingInstance } from 'twilio/lib/rest/api/v2010/account/call/recording.js';
import { AppError, describeError } from '../../core/errors.ts';
import type { JobHandler } from '../../core/queue.ts';
import type { Services } from '../../core/services.ts';
import { createTwilioClient } from '../../core/twilio-client.ts';
import { storeRecording } from '../../entities/call-record.ts';
import { sql } from '../../entities/sql.ts';
import { enqueuePipeline } from '../../core/jobs.ts';
import { traceparentOf } from '../../core/tracing.ts';

/** Statuses of a recording that ended without a file. */
const noFile = new Set<string>(['absent', 'failed']);

/** What the call's recordings at Twilio say. */
type Found = { kind: 'completed'; recording: RecordingInstance } | { kind: 'still recording' } | { kind: 'none' };

/**
 * The `recording.reconcile` job — the recording safety net. Twilio sends a recording's
 * status callback once and never retries it; this job runs RECORDING_CALLBACK_GRACE_SEC
 * after a recorded call ended. When the callback has started the pipeline, there is nothing
 * to do. Otherwise it lists the call's recordings through Twilio's REST API: a completed
 * one is stored on the call with the pipeline's job (which downloads it), in one
 * transaction; none, or only absent ones, start the pipeline on the realtime transcript. A
 * recording still in progress (a transferred call goes on) or Twilio unreachable: retried,
 * and the last attempt starts the pipeline with what there is.
 */
export function reconcileRecording(services: Services): JobHandler<'recording.reconcile'> {
  const { accountSid, authToken, apiUrl } = services.config.twilio;
  const client = accountSid && authToken ? createTwilioClient({ accountSid, authToken, apiUrl, metrics: services.metrics }) : null;

  async function find(callSid: string): Promise<Found> {
    if (!client) return { kind: 'none' };
    let recordings: RecordingInstance[];
    try {
      recordings = await client.calls(callSid).recordings.list({ limit: 50 });
    } catch (error) {
      // Twilio no longer knows the call (or never did): it has no recording to give.
      if ((error as { status?: unknown }).status === 404) return { kind: 'none' };
      throw new AppError('UPSTREAM_FAILED', `listing the call's recordings at Twilio: ${describeError(error)}`, { retryable: true, cause: error });
    }
    // Newest first, as Twilio lists them: the latest complete recording is the call's.
    const completed = recordings.find((recording) => recording.status === 'completed');
    if (completed) return { kind: 'completed', recording: completed };
    // `failed` is not in the SDK's status list, but Twilio's callbacks report it: nothing to wait for either.
    const unfinished = recordings.some((recording) => !noFile.has(recording.status));
    return unfinished ? { kind: 'still recording' } : { kind: 'none' };
  }

  return async ({ callId }, { lastAttempt, logger, span }) => {
    const em = services.orm.em.fork();
    const call = await sql(em).selectFrom('Call').select(['id', 'callSid']).where('id', '=', callId).executeTakeFirst();
    if (!call) return logger.warn({ callId }, 'recording safety net: the call no longer exists');
    // The callback came (or an earlier run of this job saw to it).
    if (await services.queue.getJob('call.process', callId)) return;

    let found: Found;
    try {
      found = await find(call.callSid);
    } catch (error) {
      if (!lastAttempt) throw error;
      logger.warn({ callId, err: describeError(error) }, 'recording safety net: Twilio unreachable on the last attempt; the pipeline starts without the recording');
      found = { kind: 'none' };
    }
    if (found.kind === 'still recording' && !lastAttempt) {
      throw new AppError('UPSTREAM_FAILED', 'the call is still being recorded', { retryable: true });
    }

    const recording = found.kind === 'completed' ? found.recording : null;
    const enqueued = await em.transactional(async (tx) => {
      // The call's row first, then the job: the recording callback's order (no deadlock).
      await sql(tx).selectFrom('Call').select('id').where('id', '=', callId).forUpdate().executeTakeFirst();
      const id = await enqueuePipeline(services.queue, callId, tx, { traceparent: span && traceparentOf(span) });
      if (id !== null && recording) {
        const recordingUrl = `${apiUrl}/2010-04-01/Accounts/${recording.accountSid}/Recordings/${recording.sid}`;
        await storeRecording(tx, { id: callId }, { sid: recording.sid, url: recordingUrl });
      }
      return id !== null;
    });
    if (enqueued) {
      services.metrics.increment('recording_callbacks_missed_total');
      logger.warn({ callId, callSid: call.callSid, found: found.kind, recordingSid: recording?.sid ?? null }, 'recording callback missed: the safety net started the pipeline');
    }
  };
}
