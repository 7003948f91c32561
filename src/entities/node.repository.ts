import type { EntityManager } from '@mikro-orm/postgresql';
import { sql as raw } from 'kysely';
import { sql } from './sql.ts';

/**
 * The entities a client can fetch by id alone (GraphQL's `node(id:)`). Every one has a
 * random UUID for its id, so an id names at most one row across all of them.
 */
export const nodeTypes = ['Business', 'ApiKey', 'Lead', 'Call', 'Appointment', 'OutboundCallJob', 'Campaign', 'WebhookDelivery', 'AuditLogEntry'] as const;
export type NodeType = (typeof nodeTypes)[number];

/** Whose rows a lookup may find, and which of the business's API keys and audit log it may see. */
export interface NodeReader {
  businessId: string;
  /** `all` for admins; otherwise only the key making the request. */
  apiKeys: 'all' | { own: string };
  /** Admins only. */
  auditLog: boolean;
}

/**
 * Which of `ids` (UUIDs) name a row `reader` may see, and of which entity, in one statement
 * (one UNION ALL branch per entity). Ids of other businesses, of rows the reader may not see,
 * or of nothing at all are simply missing from the result: the caller cannot tell them apart.
 */
export async function findNodeTypes(em: EntityManager, reader: NodeReader, ids: readonly string[]): Promise<Map<string, NodeType>> {
  if (ids.length === 0) return new Map();
  const db = sql(em);
  const wanted = [...ids];
  const type = (name: NodeType) => raw<NodeType>`${raw.lit(name)}`.as('type');
  // Every table but Business has a `business` column with the same meaning; typing the
  // branch as one table keeps Kysely's checks on the columns all of them share.
  const owned = (name: Exclude<NodeType, 'Business'>) =>
    db
      .selectFrom(name as 'Lead')
      .select([type(name), 'id'])
      .where('business', '=', reader.businessId)
      .where('id', 'in', wanted);

  let query = db.selectFrom('Business').select([type('Business'), 'id']).where('id', '=', reader.businessId).where('id', 'in', wanted);
  for (const name of ['Lead', 'Call', 'Appointment', 'OutboundCallJob', 'Campaign', 'WebhookDelivery'] as const) query = query.unionAll(owned(name));
  query = query.unionAll(reader.apiKeys === 'all' ? owned('ApiKey') : owned('ApiKey').where('id', '=', reader.apiKeys.own));
  if (reader.auditLog) query = query.unionAll(owned('AuditLogEntry'));

  const rows = await query.execute();
  return new Map(rows.map((row) => [row.id, row.type]));
}
