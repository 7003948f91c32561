import { z } from 'zod';
import { webhookDeliveryStatuses, type WebhookAttempt } from '../entities/webhook-delivery.entity.ts';
import { redeliverWebhook } from '../entities/webhook-delivery.repository.ts';
import { builder } from './builder.ts';
import { businessIdOf, ownRow } from './context.ts';
import { enumValues } from './enums.ts';
import { FieldValidationError, NotFoundError, domain } from './errors.ts';
import { NodeRef } from './node.ts';
import { CallRef, WebhookDeliveryRef } from './refs.ts';

const WebhookDeliveryStatus = builder.enumType('WebhookDeliveryStatus', {
  description: 'PENDING: an attempt is due (see nextAttemptAt). DELIVERED: a 2xx came back. FAILED: the receiver refused it (4xx other than 408/429) or the URL may not be used. DEAD: retried for the whole window without success.',
  values: enumValues(webhookDeliveryStatuses, {
    pending: 'An attempt is due (see nextAttemptAt).',
    delivered: 'The receiver answered 2xx.',
    failed: 'The receiver refused it (4xx other than 408/429), or the URL may not be used; not retried.',
    dead: 'Retried until retryUntil without success.',
  }),
});

const WebhookAttemptRef = builder.objectRef<WebhookAttempt>('WebhookAttempt').implement({
  description: 'One POST to the receiver.',
  fields: (t) => ({
    at: t.field({ type: 'DateTime', description: 'When the POST started.', resolve: (attempt) => new Date(attempt.at) }),
    statusCode: t.exposeInt('statusCode', { nullable: true, description: 'Null when no response came (timeout, refused, interrupted, …).' }),
    durationMs: t.exposeInt('durationMs', { description: '0 for an interrupted attempt.' }),
    error: t.exposeString('error', { nullable: true, description: 'Why it did not succeed (timeout, connection refused, the status line, …); null when it did.' }),
    interrupted: t.boolean({
      description: 'The POST was under way when its worker was killed, so its answer was never recorded (the receiver may have it: the retry carries the same webhook-id). Recorded when the delivery resumes.',
      resolve: (attempt) => attempt.interrupted === true,
    }),
  }),
});

WebhookDeliveryRef.implement({
  interfaces: [NodeRef],
  description: 'One webhook event for one call, with every attempt to deliver it.',
  authScopes: (delivery) => ({ tenant: delivery.business }),
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The delivery’s id (for redeliverWebhook).' }),
    event: t.exposeString('event', { description: 'The webhook event, e.g. call.completed.' }),
    url: t.exposeString('url', { description: 'Where it is posted: the business’s webhook URL when the delivery was created.' }),
    webhookId: t.exposeString('webhookId', { description: 'The `webhook-id` header: the same on every retry (idempotency key).' }),
    status: t.expose('status', { type: WebhookDeliveryStatus, description: 'Where the delivery stands.' }),
    attempts: t.field({ type: [WebhookAttemptRef], description: 'Every POST so far, oldest first.', resolve: (delivery) => delivery.attempts }),
    deliveredAt: t.expose('deliveredAt', { type: 'DateTime', nullable: true, description: 'When a 2xx came back; null until then.' }),
    nextAttemptAt: t.expose('nextAttemptAt', { type: 'DateTime', nullable: true, description: 'When the next attempt is due; null when none is scheduled.' }),
    retryUntil: t.expose('retryUntil', { type: 'DateTime', description: 'Failed attempts are retried until then.' }),
    revision: t.exposeInt('revision', { description: 'The call’s pipeline revision this delivery reports (0, then one more per reprocessCall).' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the pipeline queued it.' }),
    payload: t.expose('payload', { type: 'JSON', description: 'The body sent.' }),
    call: t.field({ type: CallRef, nullable: true, description: 'The call it reports.', resolve: (delivery, _args, ctx) => ctx.loaders.callById.load(delivery.call) }),
  }),
});

builder.queryField('webhookDeliveries', (t) =>
  t.field({
    type: [WebhookDeliveryRef],
    authScopes: { reader: true },
    description: 'A call’s webhook deliveries, oldest first (empty for a call this business does not have).',
    args: { callId: t.arg.id({ required: true, description: 'The Call.id.' }) },
    resolve: async (_root, args, ctx) => {
      const call = await ownRow(ctx, ctx.loaders.callById, String(args.callId));
      return call ? ctx.loaders.webhookDeliveriesByCallId.load(call.id) : [];
    },
  }),
);

builder.mutationField('redeliverWebhook', (t) =>
  t.field({
    type: WebhookDeliveryRef,
    authScopes: { admin: true },
    description: 'Sends a delivery again now (delivered, failed or dead alike): same body, same webhook-id, a fresh retry window.',
    errors: { types: [FieldValidationError, NotFoundError], directResult: true },
    args: { deliveryId: t.arg.id({ required: true, description: 'The WebhookDelivery.id.', validate: z.uuid('is not a webhook delivery id') }) },
    resolve: (_root, args, ctx) =>
      domain(() => redeliverWebhook(ctx.em, ctx.services.queue, businessIdOf(ctx), String(args.deliveryId), ctx.services.config.webhooks.retryForSec)),
  }),
);

export { WebhookDeliveryStatus };
