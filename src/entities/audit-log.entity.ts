import { randomUUID } from 'node:crypto';
import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { Business } from './business.entity.ts';

/** Who acted: a business's API key by its role, or the operator's ADMIN_API_KEY. */
export const auditActorRoles = ['admin', 'supervisor', 'viewer', 'platform', 'anonymous'] as const;

/**
 * One GraphQL mutation or supervisor action (listen-in included): who, what, on which ids,
 * how it ended, when. Ids only — never an argument's value, a key, or a whisper's text — so
 * the log holds no personal data and no secret. Kept as long as the business exists: it is
 * the business's record of who did what (deleted with the business, by cascade).
 */
export const AuditLogEntry = defineEntity({
  name: 'AuditLogEntry',
  tableName: 'audit_log',
  indexes: [{ properties: ['business', 'createdAt'], name: 'audit_log_business_created_at_index' }],
  properties: {
    id: p.uuid().primary().onCreate(() => randomUUID()),
    /** The business acted on: the key's, or for the platform key the business it created or named; null when none. */
    business: () => p.manyToOne(Business).nullable().deleteRule('cascade'),
    /** The API key's id; null for the platform key and for requests without a key. */
    apiKeyId: p.uuid().nullable(),
    /** The key's public prefix (`cw_…`), `platform`, or `anonymous`: never the key. */
    actor: p.string().length(32),
    role: p.enum(auditActorRoles),
    /** The Mutation field (`whisperToAgent`), or the Subscription field for a listen-in (`callAudio`). */
    operation: p.string().length(64),
    /** The ids among the arguments, by argument path (`callId`, `input.leadIds`), plus `result` for a created row's id. */
    targets: p.json<Record<string, string | string[]>>(),
    /** `ok`, or the error's code (`FORBIDDEN`, `VALIDATION_FAILED`, `NOT_FOUND`, `INTERNAL_SERVER_ERROR`…). */
    outcome: p.string().length(64),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});
export type AuditLogEntry = InferEntity<typeof AuditLogEntry>;
