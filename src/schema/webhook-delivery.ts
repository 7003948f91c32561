import { z } from 'zod';
import { webhookDeliveryStatuses, type WebhookAttempt } from '../entities/webhook-delivery.entity.ts';
import { redeliverWebhook } from '../workers/webhooks/redeliver.ts';
import { builder } from './builder.ts';
import { businessIdOf, ownRow } from './context.ts';
import { enumValues } from './enums.ts';
import { FieldValidationError, NotFoundError, domain } from './errors.ts';
import { CallRef, WebhookDeliveryRef } from './refs.ts';

const WebhookDeliveryStatus = builder.enumType('WebhookDeliveryStatus', {
  description: 'PENDING: an attempt is due (see nextAttemptAt). DELIVERED: a 2xx came back. FAILED: the receiver refused it (4xx other than 408/429) or the URL may not be used. DEAD: retried for the whole window without success.',
  values: enumValues(webhookDeliveryStatuses),
});

const WebhookAttemptRef = builder.objectRef<WebhookAttempt>('WebhookAttempt').implement({
  description: 'One POST to the receiver.',
  fields: (t) => ({
    at: t.field({ type: 'DateTime', resolve: (attempt) => new Date(attempt.at) }),
    statusCode: t.exposeInt('statusCode', { nullable: true, description: 'Null when no response came (timeout, refused, interrupted, …).' }),
    durationMs: t.exposeInt('durationMs', { description: '0 for an interrupted attempt.' }),
    error: t.exposeString('error', { nullable: true }),
    interrupted: t.boolean({
      description: 'The POST was under way when its worker was killed, so its answer was never recorded (the receiver may have it: the retry carries the same webhook-id). Recorded when the delivery resumes.',
      resolve: (attempt) => attempt.interrupted === true,
    }),
  }),
});

WebhookDeliveryRef.implement({
  description: 'One webhook event for one call, with every attempt to deliver it.',
  authScopes: (delivery) => ({ tenant: delivery.business }),
  fields: (t) => ({
    id: t.exposeID('id'),
    event: t.exposeString('event', { description: 'e.g. call.completed' }),
    url: t.exposeString('url'),
    webhookId: t.exposeString('webhookId', { description: 'The `webhook-id` header: the same on every retry (idempotency key).' }),
    status: t.expose('status', { type: WebhookDeliveryStatus }),
    attempts: t.field({ type: [WebhookAttemptRef], resolve: (delivery) => delivery.attempts }),
    deliveredAt: t.expose('deliveredAt', { type: 'DateTime', nullable: true }),
    nextAttemptAt: t.expose('nextAttemptAt', { type: 'DateTime', nullable: true, description: 'When the next attempt is due; null when none is scheduled.' }),
    retryUntil: t.expose('retryUntil', { type: 'DateTime', description: 'Failed attempts are retried until then.' }),
    revision: t.exposeInt('revision', { description: 'The call’s pipeline revision this delivery reports (0, then one more per reprocessCall).' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    payload: t.expose('payload', { type: 'JSON', description: 'The body sent.' }),
    call: t.field({ type: CallRef, nullable: true, resolve: (delivery, _args, ctx) => ctx.loaders.callById.load(delivery.call) }),
  }),
});

builder.queryField('webhookDeliveries', (t) =>
  t.field({
    type: [WebhookDeliveryRef],
    authScopes: { reader: true },
    description: 'A call’s webhook deliveries, oldest first (empty for a call this business does not have).',
    args: { callId: t.arg.id({ required: true }) },
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
    args: { deliveryId: t.arg.id({ required: true, validate: z.uuid('is not a webhook delivery id') }) },
    resolve: (_root, args, ctx) =>
      domain(() => redeliverWebhook(ctx.em, ctx.services.queue, businessIdOf(ctx), String(args.deliveryId), ctx.services.config.webhooks.retryForSec)),
  }),
);

export { WebhookDeliveryStatus };
