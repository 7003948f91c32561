import { auditActorRoles } from '../entities/audit-log.entity.ts';
import type { AuditLogEntry } from '../entities/audit-log.entity.ts';
import { listAuditLog } from '../entities/audit-log.repository.ts';
import type { Row } from '../entities/sql.ts';
import { builder } from './builder.ts';
import { businessIdOf } from './context.ts';
import { enumValues } from './enums.ts';
import { NodeRef } from './node.ts';
import { connectionOf, pageArguments, pageComplexity, pageRequest, toConnection } from './pagination.ts';

const AuditActorRole = builder.enumType('AuditActorRole', {
  description: 'The role of the key that acted; PLATFORM is the operator’s ADMIN_API_KEY.',
  values: enumValues(auditActorRoles, {
    admin: 'An ADMIN key of the business.',
    supervisor: 'A SUPERVISOR key of the business.',
    viewer: 'A VIEWER key of the business: its attempts at a mutation are logged with outcome FORBIDDEN.',
    platform: 'The operator’s ADMIN_API_KEY.',
    anonymous: 'No key. Such requests are refused before any mutation runs, so a business’s log does not list them.',
  }),
});

const AuditLogEntryRef = builder.objectRef<Row<AuditLogEntry>>('AuditLogEntry').implement({
  interfaces: [NodeRef],
  description: 'One mutation or supervisor action (listen-in included): who, what, on which ids, how it ended. Ids only: no argument values, no keys.',
  // The entries of a platform action (business null) are listed by no business.
  authScopes: (entry) => ({ tenant: entry.business ?? '' }),
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The entry’s id.' }),
    apiKeyId: t.exposeID('apiKeyId', { nullable: true, description: 'The key that acted; null for the platform key.' }),
    actor: t.exposeString('actor', { description: 'The key’s public prefix (cw_…), or "platform".' }),
    role: t.expose('role', { type: AuditActorRole, description: 'The role of the key that acted, when it acted.' }),
    operation: t.exposeString('operation', { description: 'The Mutation field, e.g. whisperToAgent, or callAudio for a listen-in.' }),
    targets: t.expose('targets', {
      type: 'JSON',
      description: 'The ids the operation named, by argument path ({"callId": "…"}), and "result…" for a row it created.',
    }),
    outcome: t.exposeString('outcome', { description: '"ok", or the error code (FORBIDDEN, VALIDATION_FAILED, NOT_FOUND, …).' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the operation ran.' }),
  }),
});

const AuditLogConnection = connectionOf('AuditLogEntry', AuditLogEntryRef);

builder.queryField('auditLog', (t) =>
  t.field({
    type: AuditLogConnection,
    authScopes: { admin: true },
    description: 'Admins only: every mutation and supervisor action on this business, newest first. Kept as long as the business.',
    args: pageArguments(t.arg),
    complexity: pageComplexity,
    resolve: async (_root, args, ctx, info) => toConnection(await listAuditLog(ctx.em, businessIdOf(ctx), pageRequest(args, info))),
  }),
);
