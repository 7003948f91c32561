import { randomUUID } from 'node:crypto';
import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { Business } from './business.entity.ts';
import { Call } from './call.entity.ts';

export const webhookDeliveryStatuses = ['pending', 'delivered', 'failed', 'dead'] as const;
export type WebhookDeliveryStatus = (typeof webhookDeliveryStatuses)[number];

export interface WebhookAttempt {
  at: string;
  statusCode: number | null;
  /** 0 for an interrupted attempt: its end was never seen. */
  durationMs: number;
  error: string | null;
  /** The POST was under way when its worker stopped (killed); no answer was recorded. */
  interrupted?: true;
}

/**
 * One webhook event for one call, with every attempt to deliver it. Invariant: at most one
 * delivery per (call, event, revision) — a retried or re-triggered pipeline reuses the row,
 * and its `webhookId` (the receiver's idempotency key) never changes. Only an explicit
 * reprocess (a new `Call.pipelineRevision`) makes a new delivery.
 */
export const WebhookDelivery = defineEntity({
  name: 'WebhookDelivery',
  tableName: 'webhook_deliveries',
  properties: {
    id: p.uuid().primary().onCreate(() => randomUUID()),
    business: () => p.manyToOne(Business).deleteRule('cascade').index(),
    call: () => p.manyToOne(Call).deleteRule('cascade'),
    event: p.string(),
    url: p.text(),
    payload: p.json<Record<string, unknown>>(),
    webhookId: p.string().onCreate(() => `msg_${randomUUID().replaceAll('-', '')}`).unique(),
    attempts: p.json<WebhookAttempt[]>().onCreate(() => []),
    status: p.enum(webhookDeliveryStatuses).default('pending'),
    /** The call's pipeline revision this delivery reports. */
    revision: p.integer().default(0),
    /** Failed attempts are retried until then; after it, the delivery is dead. Default: a day from now. */
    retryUntil: p.datetime().onCreate(() => new Date(Date.now() + 24 * 60 * 60 * 1000)),
    /** When the next attempt is due (null when none is scheduled). */
    nextAttemptAt: p.datetime().nullable(),
    /**
     * Set just before an attempt's POST, cleared with its record: still set when the job
     * starts again means the attempt was cut off (its worker died), and it is recorded as
     * interrupted then.
     */
    attemptStartedAt: p.datetime().nullable(),
    deliveredAt: p.datetime().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  },
  uniques: [{ properties: ['call', 'event', 'revision'], name: 'webhook_deliveries_call_event_revision_unique' }],
});
export type WebhookDelivery = InferEntity<typeof WebhookDelivery>;
