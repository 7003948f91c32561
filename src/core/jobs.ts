import { z } from 'zod';

/**
 * Every background job, by name: the payload schema (checked again when the job starts,
 * because jobs outlive deploys) and its queue's retry policy. Payloads carry ids only;
 * handlers reload the rows they need and return early when the work is already done.
 */
export const jobDefinitions = {
  /**
   * The post-call pipeline of one call: recording → transcript → summary → extraction →
   * webhook. Retried with backoff; a worker that dies mid-step stops sending heartbeats, so
   * the job is retried within about 20 s (heartbeat + supervision interval) rather than
   * when it expires.
   */
  'call.process': {
    payload: z.object({ callId: z.uuid() }),
    queue: { retryLimit: 10, retryDelay: 2, retryBackoff: true, retryDelayMax: 600, expireInSeconds: 900, heartbeatSeconds: 10, notify: true },
  },
  /**
   * One attempt to deliver a webhook. The handler schedules the next attempt itself (its
   * own backoff over 24 h, workers/webhooks/retry-policy.ts); the queue's retries only
   * cover a handler that crashed before it could record its attempt.
   */
  'webhook.deliver': {
    payload: z.object({ deliveryId: z.uuid() }),
    queue: { retryLimit: 5, retryDelay: 5, retryBackoff: true, retryDelayMax: 300, expireInSeconds: 120, heartbeatSeconds: 10, notify: true },
  },
  /** Places one outbound call attempt. */
  'outbound.dial': {
    payload: z.object({ outboundJobId: z.uuid() }),
    queue: { retryLimit: 2, retryDelay: 30, expireInSeconds: 120 },
  },
} as const;

export type JobName = keyof typeof jobDefinitions;
export type JobPayload<N extends JobName> = z.infer<(typeof jobDefinitions)[N]['payload']>;
export const jobNames = Object.keys(jobDefinitions) as JobName[];
