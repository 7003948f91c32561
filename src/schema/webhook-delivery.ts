import { webhookDeliveryStatuses, type WebhookAttempt } from '../entities/webhook-delivery.entity.ts';
import { builder } from './builder.ts';
import { ownRow } from './context.ts';
import { enumValues } from './enums.ts';
import { CallRef, WebhookDeliveryRef } from './refs.ts';

const WebhookDeliveryStatus = builder.enumType('WebhookDeliveryStatus', { values: enumValues(webhookDeliveryStatuses) });

const WebhookAttemptRef = builder.objectRef<WebhookAttempt>('WebhookAttempt').implement({
  description: 'One POST to the receiver.',
  fields: (t) => ({
    at: t.field({ type: 'DateTime', resolve: (attempt) => new Date(attempt.at) }),
    statusCode: t.exposeInt('statusCode', { nullable: true, description: 'Null when no response came (timeout, refused, …).' }),
    durationMs: t.exposeInt('durationMs'),
    error: t.exposeString('error', { nullable: true }),
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
