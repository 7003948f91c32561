import type { EntityManager } from '@mikro-orm/postgresql';
import type { AuditLogEntry } from './audit-log.entity.ts';
import { fetchPage, type Page, type PageRequest } from './page.ts';
import { sql, type Row } from './sql.ts';

export type AuditEntryInput = Omit<Row<AuditLogEntry>, 'id' | 'createdAt'>;

/** Writes one audit entry: a single insert, outside the request's own unit of work. */
export async function insertAuditEntry(em: EntityManager, entry: AuditEntryInput): Promise<void> {
  await sql(em).insertInto('AuditLogEntry').values(entry).execute();
}

/** A business's audit log, newest first. */
export function listAuditLog(em: EntityManager, businessId: string, page: PageRequest): Promise<Page<Row<AuditLogEntry>>> {
  const query = sql(em).selectFrom('AuditLogEntry').where('business', '=', businessId);
  return fetchPage(query, 'AuditLogEntry', page);
}
