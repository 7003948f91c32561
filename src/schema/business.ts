import { z } from 'zod';
import { apiKeyRoles } from '../core/auth.ts';
import { createBusiness } from '../entities/business.repository.ts';
import { builder } from './builder.ts';
import type { Auth } from './context.ts';
import { enumValues } from './enums.ts';
import { ConflictError, FieldValidationError, domain } from './errors.ts';
import { phoneNumber, timeZone } from './inputs.ts';
import { NodeRef } from './node.ts';
import { ApiKeyRef, BusinessRef, BusinessSettingsRef } from './refs.ts';

BusinessRef.implement({
  interfaces: [NodeRef],
  description: 'A tenant: one business whose calls Callwatch answers and places.',
  // The platform key sees the businesses it creates (createBusiness's result), nothing else.
  authScopes: (business) => ({ $any: { tenant: business.id, platform: true } }),
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The business’s id.' }),
    name: t.exposeString('name', { description: 'The business’s name; greetings fill it in for {businessName}.' }),
    timezone: t.exposeString('timezone', { description: 'IANA time zone of business hours and calling windows.' }),
    locale: t.exposeString('locale', { description: 'BCP 47 locale of the business’s callers and staff (he-IL by default).' }),
    phoneNumbers: t.stringList({
      description: 'Numbers the business answers on (E.164).',
      resolve: (business, _args, ctx) => ctx.loaders.phoneNumbersByBusinessId.load(business.id),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When createBusiness added it.' }),
    settings: t.field({
      type: BusinessSettingsRef,
      authScopes: { reader: true },
      description: 'How the agent behaves and where results go (keys of the business only).',
      resolve: async (business, _args, ctx) => {
        const settings = await ctx.loaders.settingsByBusinessId.load(business.id);
        if (!settings) throw new Error(`business ${business.id} has no settings row`);
        return settings;
      },
    }),
    apiKeys: t.field({
      type: [ApiKeyRef],
      authScopes: { admin: true },
      description: 'Every API key of the business, newest first (admins only).',
      resolve: (business, _args, ctx) => ctx.loaders.apiKeysByBusinessId.load(business.id),
    }),
  }),
});

const ViewerRole = builder.enumType('ViewerRole', {
  description: 'The role of an API key; PLATFORM_ADMIN is the operator’s ADMIN_API_KEY.',
  values: enumValues([...apiKeyRoles, 'platform-admin'] as const, {
    admin: 'A business key with role ADMIN.',
    supervisor: 'A business key with role SUPERVISOR.',
    viewer: 'A business key with role VIEWER.',
    'platform-admin': 'The operator’s ADMIN_API_KEY: creates businesses, belongs to none.',
  }),
});

export const Viewer = builder.objectRef<Auth>('Viewer').implement({
  description: 'Who the API key belongs to.',
  fields: (t) => ({
    role: t.field({
      type: ViewerRole,
      description: 'What the key may do.',
      resolve: (auth) => (auth.kind === 'platform' ? 'platform-admin' : auth.role),
    }),
    business: t.field({
      type: BusinessRef,
      nullable: true,
      description: 'Null for the platform admin key.',
      resolve: (auth, _args, ctx) => (auth.kind === 'business' ? ctx.loaders.businessById.load(auth.businessId) : null),
    }),
    apiKey: t.field({
      type: ApiKeyRef,
      nullable: true,
      description: 'The key of this request; null for the platform admin key.',
      resolve: async (auth, _args, ctx) => {
        if (auth.kind !== 'business') return null;
        const keys = await ctx.loaders.apiKeysByBusinessId.load(auth.businessId);
        return keys.find((key) => key.id === auth.apiKeyId) ?? null;
      },
    }),
  }),
});

builder.queryField('viewer', (t) =>
  t.field({
    type: Viewer,
    authScopes: { $any: { reader: true, platform: true } },
    description: 'The business and role behind the API key of this request.',
    resolve: (_root, _args, ctx) => ctx.auth as Auth,
  }),
);

const CreateBusinessInput = builder.inputType('CreateBusinessInput', {
  description: 'A new business: its name, where it is, and the numbers it answers on.',
  fields: (t) => ({
    name: t.string({ required: true, description: 'The business’s name, 1–200 characters.', validate: z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters') }),
    timezone: t.string({ description: 'Default Asia/Jerusalem.', validate: timeZone.nullish() }),
    locale: t.string({
      description: 'BCP 47, default he-IL.',
      validate: z.string().refine((value) => Intl.DateTimeFormat.supportedLocalesOf([value]).length === 1, 'is not a supported locale (e.g. he-IL)').nullish(),
    }),
    phoneNumbers: t.stringList({
      required: true,
      description: 'Numbers the business answers on; each may belong to one business only.',
      validate: z.array(phoneNumber).max(20, 'at most 20 numbers').refine((list) => new Set(list).size === list.length, 'lists a number twice'),
    }),
  }),
});

const CreateBusinessPayload = builder
  .objectRef<{ business: typeof BusinessRef.$inferType; apiKey: typeof ApiKeyRef.$inferType; key: string }>('CreateBusinessPayload')
  .implement({
    description: 'The new business, its first admin key and, once only, that key’s secret.',
    fields: (t) => ({
      business: t.field({ type: BusinessRef, description: 'The business, with default settings.', resolve: (payload) => payload.business }),
      apiKey: t.field({ type: ApiKeyRef, description: 'The business’s first admin key.', resolve: (payload) => payload.apiKey }),
      key: t.exposeString('key', { description: 'The admin key’s secret. Shown only here: store it now.' }),
    }),
  });

builder.mutationField('createBusiness', (t) =>
  t.field({
    type: CreateBusinessPayload,
    authScopes: { platform: true },
    description: 'Platform admin (ADMIN_API_KEY) only: a new business with default settings and a first admin API key.',
    errors: { types: [FieldValidationError, ConflictError], directResult: true },
    args: { input: t.arg({ type: CreateBusinessInput, required: true, description: 'The business to create.' }) },
    resolve: (_root, { input }, ctx) =>
      domain(async () => {
        const created = await createBusiness(ctx.em, input);
        // Its numbers answer from the routing cache too while Postgres is unreachable.
        ctx.services.bus.publish('business:routing', { businessId: created.business.id });
        return created;
      }),
  }),
);
