import { createHash } from 'node:crypto';
import type { EntityManager } from './db.ts';
import { z } from 'zod';
import type { JobQueue } from './queue.ts';

/**
 * Every background job, by name: the payload schema (checked again when the job starts,
 * because jobs outlive deploys) and its queue's retry policy. Payloads carry ids only;
 * handlers reload the rows they need and return early when the work is already done.
 */
export const jobDefinitions = {
  /**
   * The post-call pipeline of one call: recording → transcript → summary → extraction →
   * webhook. Retried with backoff. A worker that dies mid-step stops sending heartbeats (every
   * 5 s); the job is failed once its heartbeat is 10 s old, by the next supervision pass (every
   * 5 s, queue.ts), and retried after 2–4 s: measured 16–18 s after a SIGKILL
   * (test/e2e/faults/job-retry-after-kill.test.ts). A live job keeps beating however long it runs,
   * so only `expireInSeconds` bounds it, and only a handler hung in a live process needs that:
   * an hour, because a 2-hour call's transcription (≈ 800 requests, 4 at a time) can take
   * longer than the 15 minutes it was.
   */
  'call.process': {
    payload: z.object({ callId: z.uuid() }),
    queue: { retryLimit: 10, retryDelay: 2, retryBackoff: true, retryDelayMax: 600, expireInSeconds: 3600, heartbeatSeconds: 10, notify: true },
  },
  /**
   * The recording safety net of one recorded call, due RECORDING_CALLBACK_GRACE_SEC after it
   * ended: when Twilio's recording callback has not started the pipeline by then, the call's
   * recordings are listed through Twilio's REST API and the pipeline is started. Retried
   * while Twilio is unreachable or the recording is still being made (a transferred call
   * goes on): 1, 2, 4, 8, 16 then 30-minute waits, about 2 h; the last attempt starts the
   * pipeline whatever it finds.
   */
  'recording.reconcile': {
    payload: z.object({ callId: z.uuid() }),
    queue: { retryLimit: 8, retryDelay: 60, retryBackoff: true, retryDelayMax: 1800, expireInSeconds: 120, notify: true },
  },
  /**
   * One attempt to deliver a webhook. The handler schedules the next attempt itself (its
   * own backoff over 24 h, workers/webhooks/retry-policy.ts); the queue's retries only
   * cover a handler that crashed before it could record its attempt (its worker died: then
   * retried like call.process, the cut-off attempt recorded as interrupted).
   */
  'webhook.deliver': {
    payload: z.object({ deliveryId: z.uuid() }),
    queue: { retryLimit: 5, retryDelay: 2, retryBackoff: true, retryDelayMax: 300, expireInSeconds: 120, heartbeatSeconds: 10, notify: true },
  },
  /**
   * Places one attempt of an outbound call, when calling hours and the business's free
   * lines allow; otherwise it schedules itself again (workers/outbound/dial.ts). Twilio's
   * status callback, not this job, settles the attempt.
   */
  'outbound.dial': {
    payload: z.object({ outboundJobId: z.uuid() }),
    // Retries reach past abandonedClaimMs (60 s): 5 + 10 + 20 + 40 s (dialer/dial-attempts.ts).
    queue: { retryLimit: 5, retryDelay: 5, retryBackoff: true, retryDelayMax: 60, expireInSeconds: 120, heartbeatSeconds: 10, notify: true },
  },
  /** Hangs up (or cancels, while it rings) an outbound call whose job was canceled. */
  'outbound.hangup': {
    payload: z.object({ callSid: z.string().regex(/^CA[0-9a-f]{32}$/) }),
    queue: { retryLimit: 5, retryDelay: 2, retryBackoff: true, expireInSeconds: 60, notify: true },
  },
  /**
   * Data kept only as long as allowed: deletes the recordings (at Twilio and here) of calls
   * older than each business's `recordingRetentionDays`, and clears the transcripts,
   * summaries, extracted fields and timelines of calls older than `transcriptRetentionDays`
   * (workers/privacy/retention.job.ts). Daily at 02:30 UTC, one job across every instance
   * (pg-boss's cron); in bounded batches, idempotent. A recording Twilio did not confirm
   * deleted fails the attempt after the rest is done, and the retry tries it again.
   */
  'privacy.retention': {
    payload: z.object({}),
    queue: { retryLimit: 5, retryDelay: 60, retryBackoff: true, retryDelayMax: 1800, expireInSeconds: 3600, heartbeatSeconds: 30, notify: true },
    schedule: { cron: '30 2 * * *', tz: 'UTC' },
  },
} as const;

export type JobName = keyof typeof jobDefinitions;
export type JobPayload<N extends JobName> = z.infer<(typeof jobDefinitions)[N]['payload']>;
export const jobNames = Object.keys(jobDefinitions) as JobName[];

/**
 * Enqueues the post-call pipeline of `callId` once per revision: the job id is the call id
 * (revision 0), or derived from it and the revision (a `reprocessCall`), so a repeated
 * trigger finds the job there and adds none. `traceparent`: the trace the job joins (the call's).
 */
export function enqueuePipeline(queue: JobQueue, callId: string, em: EntityManager, options: { revision?: number; traceparent?: string } = {}): Promise<string | null> {
  return queue.send('call.process', { callId }, { em, id: pipelineJobId(callId, options.revision ?? 0), traceparent: options.traceparent });
}

/** A UUID (version 8, name-based on SHA-256) for a call's pipeline job of one revision. */
export function pipelineJobId(callId: string, revision: number): string {
  return revision === 0 ? callId : namedUuid(`call.process:${callId}:${revision}`);
}

/** The id of a call's recording safety net job: one per call. */
export function reconcileJobId(callId: string): string {
  return namedUuid(`recording.reconcile:${callId}`);
}

/** A UUID (version 8) derived from `name` by SHA-256. */
function namedUuid(name: string): string {
  const bytes = createHash('sha256').update(name).digest().subarray(0, 16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x80;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
