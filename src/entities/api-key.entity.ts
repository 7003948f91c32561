import { randomUUID } from 'node:crypto';
import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { apiKeyRoles } from '../core/auth.ts';
import { Business } from './business.entity.ts';

/** A credential for the GraphQL API and the console. Only the key's hash is stored. */
export const ApiKey = defineEntity({
  name: 'ApiKey',
  tableName: 'api_keys',
  properties: {
    id: p.uuid().primary().onCreate(() => randomUUID()),
    business: () => p.manyToOne(Business).deleteRule('cascade').index(),
    name: p.string(),
    role: p.enum(apiKeyRoles),
    /** First characters of the key, shown so people can tell keys apart. */
    prefix: p.string().length(16),
    keyHash: p.string().length(64).unique().hidden(),
    createdAt: p.datetime().onCreate(() => new Date()),
    lastUsedAt: p.datetime().nullable(),
    revokedAt: p.datetime().nullable(),
  },
});
export type ApiKey = InferEntity<typeof ApiKey>;
