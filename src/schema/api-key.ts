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
  values: enumValues(apiKeyRoles),
});

ApiKeyRef.implement({
  interfaces: [NodeRef],
  description: 'A credential for the API. Its secret is shown once, when it is created, and never again.',
  authScopes: (key) => ({ $any: { tenant: key.business, platform: true } }),
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    role: t.expose('role', { type: ApiKeyRole }),
    prefix: t.exposeString('prefix', { description: 'The first characters of the key, to tell keys apart.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    lastUsedAt: t.expose('lastUsedAt', { type: 'DateTime', nullable: true, description: 'To the minute.' }),
    revokedAt: t.expose('revokedAt', { type: 'DateTime', nullable: true }),
  }),
});

const CreateApiKeyPayload = builder.objectRef<{ apiKey: typeof ApiKeyRef.$inferType; key: string }>('CreateApiKeyPayload').implement({
  fields: (t) => ({
    apiKey: t.field({ type: ApiKeyRef, resolve: (payload) => payload.apiKey }),
    key: t.exposeString('key', { description: 'The secret. Shown only here: store it now.' }),
  }),
});

const CreateApiKeyInput = builder.inputType('CreateApiKeyInput', {
  fields: (t) => ({
    name: t.string({ required: true, validate: z.string().trim().min(1, 'must not be empty').max(100, 'must be at most 100 characters') }),
    role: t.field({ type: ApiKeyRole, required: true }),
  }),
});

builder.mutationFields((t) => ({
  createApiKey: t.field({
    type: CreateApiKeyPayload,
    authScopes: { admin: true },
    errors: { types: [FieldValidationError], directResult: true },
    args: { input: t.arg({ type: CreateApiKeyInput, required: true }) },
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
    args: { id: t.arg.id({ required: true, validate: z.uuid('is not an API key id') }) },
    resolve: (_root, args, ctx) =>
      domain(async () => {
        const apiKey = await revokeApiKey(ctx.em, businessIdOf(ctx), String(args.id));
        // Every instance ends the sockets and streams it holds for the key (graphql-live-access.ts).
        ctx.services.bus.publish('api-key:revoked', { apiKeyId: apiKey.id });
        return apiKey;
      }),
  }),
}));
