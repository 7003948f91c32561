import { z } from 'zod';
import { apiKeyRoles } from '../core/auth.ts';
import { issueApiKey, revokeApiKey } from '../entities/api-key.repository.ts';
import { builder } from './builder.ts';
import { businessIdOf } from './context.ts';
import { enumValues } from './enums.ts';
import { FieldValidationError, NotFoundError, domain } from './errors.ts';
import { NodeRef } from './node.ts';
import { ApiKeyRef } from './refs.ts';

const ApiKeyRole = builder.enumType('ApiKeyRole', {
  description: 'VIEWER reads; SUPERVISOR also changes leads, appointments and outbound calls and acts on live calls; ADMIN also configures.',
  values: enumValues(apiKeyRoles, {
    admin: 'Everything SUPERVISOR may do, plus settings, API keys, webhooks, reprocessing, the audit log and lead export/erasure.',
    supervisor: 'Everything VIEWER may do, plus changing leads, appointments, outbound calls and campaigns, and acting on live calls (whisper, transfer, hang up, listen in).',
    viewer: 'Reads the business’s data and follows its live calls; changes nothing.',
  }),
});

ApiKeyRef.implement({
  interfaces: [NodeRef],
  description: 'A credential for the API. Its secret is shown once, when it is created, and never again.',
  authScopes: (key) => ({ $any: { tenant: key.business, platform: true } }),
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The key’s id (used by revokeApiKey); not the secret.' }),
    name: t.exposeString('name', { description: 'A label chosen when the key was created, e.g. the CRM that uses it.' }),
    role: t.expose('role', { type: ApiKeyRole, description: 'What requests with this key may do.' }),
    prefix: t.exposeString('prefix', { description: 'The first characters of the key, to tell keys apart.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the key was issued.' }),
    lastUsedAt: t.expose('lastUsedAt', { type: 'DateTime', nullable: true, description: 'To the minute.' }),
    revokedAt: t.expose('revokedAt', { type: 'DateTime', nullable: true, description: 'When revokeApiKey revoked it; null while the key works.' }),
  }),
});

const CreateApiKeyPayload = builder.objectRef<{ apiKey: typeof ApiKeyRef.$inferType; key: string }>('CreateApiKeyPayload').implement({
  description: 'A new API key and, once only, its secret.',
  fields: (t) => ({
    apiKey: t.field({ type: ApiKeyRef, description: 'The key as listed from now on (without its secret).', resolve: (payload) => payload.apiKey }),
    key: t.exposeString('key', { description: 'The secret. Shown only here: store it now.' }),
  }),
});

const CreateApiKeyInput = builder.inputType('CreateApiKeyInput', {
  description: 'A new API key of this business.',
  fields: (t) => ({
    name: t.string({ required: true, description: 'A label to tell keys apart (1–100 characters).', validate: z.string().trim().min(1, 'must not be empty').max(100, 'must be at most 100 characters') }),
    role: t.field({ type: ApiKeyRole, required: true, description: 'What requests with the key may do.' }),
  }),
});

builder.mutationFields((t) => ({
  createApiKey: t.field({
    type: CreateApiKeyPayload,
    authScopes: { admin: true },
    description: 'Admins only: issues an API key for this business. Its secret is in the result and never shown again.',
    errors: { types: [FieldValidationError], directResult: true },
    args: { input: t.arg({ type: CreateApiKeyInput, required: true, description: 'The key’s name and role.' }) },
    resolve: (_root, { input }, ctx) =>
      domain(async () => {
        const { apiKey, key } = await issueApiKey(ctx.em, { businessId: businessIdOf(ctx), ...input });
        return { apiKey, key };
      }),
  }),
  revokeApiKey: t.field({
    type: ApiKeyRef,
    authScopes: { admin: true },
    description: 'Revokes a key at once: requests with it fail from now on, and its open subscriptions end (graphql-ws sockets close with 4403).',
    errors: { types: [FieldValidationError, NotFoundError], directResult: true },
    args: { id: t.arg.id({ required: true, description: 'The ApiKey.id to revoke.', validate: z.uuid('is not an API key id') }) },
    resolve: (_root, args, ctx) =>
      domain(async () => {
        const apiKey = await revokeApiKey(ctx.em, businessIdOf(ctx), String(args.id));
        // Every instance ends the sockets and streams it holds for the key (graphql/live-access.ts).
        ctx.services.bus.publish('api-key:revoked', { apiKeyId: apiKey.id });
        return apiKey;
      }),
  }),
}));
