import { z } from 'zod';

/**
 * Every background job, by name: the payload schema (checked again when the job starts,
 * because jobs outlive deploys) and its queue's retry policy. Payloads carry ids only;
 * handlers reload the rows they need and return early when the work is already done.
 */
export const jobDefinitions = {
  /** The post-call pipeline of one call: recording → transcript → summary → extraction → webhook. */
  'call.process': {
    payload: z.object({ callId: z.uuid() }),
    queue: { retryLimit: 5, retryDelay: 5, retryBackoff: true, retryDelayMax: 600, expireInSeconds: 900 },
  },
  /** One `call.completed` webhook delivery, retried with backoff for up to a day. */
  'webhook.deliver': {
    payload: z.object({ deliveryId: z.uuid() }),
    queue: { retryLimit: 20, retryDelay: 10, retryBackoff: true, retryDelayMax: 7200, expireInSeconds: 120 },
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
