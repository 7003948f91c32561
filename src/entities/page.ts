import { sql as raw, type RawBuilder, type SelectQueryBuilder, type SqlBool } from 'kysely';
import type { Database } from './sql.ts';

/** A position in a newest-first listing: the last row's creation time and id. */
export interface Cursor {
  at: Date;
  id: string;
}

export interface PageRequest {
  first: number;
  after: Cursor | null;
  /** Also count every row matching the filter (in the same statement). */
  withTotal: boolean;
}

export interface Page<T> {
  rows: T[];
  hasNextPage: boolean;
  totalCount: number | null;
}

/**
 * Keyset condition for "after this cursor" in `(createdAt desc, id desc)` order. Rows
 * inserted while a client pages never shift later pages: no duplicates, no gaps.
 */
export function afterCursor(table: string, cursor: Cursor): RawBuilder<SqlBool> {
  return raw<SqlBool>`(${raw.ref(`${table}.createdAt`)}, ${raw.ref(`${table}.id`)}) < (${cursor.at}, ${cursor.id}::uuid)`;
}

/** Splits the `first + 1` rows a page query fetched into the page and whether more follow. */
export function toPage<T>(rows: T[], first: number, totalCount: number | null): Page<T> {
  return { rows: rows.slice(0, first), hasNextPage: rows.length > first, totalCount };
}

/** Tables listed newest first, by `(createdAt, id)`. */
type PagedTable = 'Lead' | 'OutboundCallJob' | 'AuditLogEntry';

/**
 * A newest-first page of the rows `matching` selects from `table`, and — when asked, on
 * the side — how many match in all. (Calls fold the count into the page's statement; see
 * call.repository.ts.)
 */
export async function fetchPage<T extends PagedTable>(
  matching: SelectQueryBuilder<Database, T, object>,
  table: T,
  page: PageRequest,
) {
  const paged = page.after ? matching.where(afterCursor(table, page.after)) : matching;
  const [rows, total] = await Promise.all([
    paged.selectAll().orderBy('createdAt', 'desc').orderBy('id', 'desc').limit(page.first + 1).execute(),
    page.withTotal ? matching.select((eb) => eb.fn.countAll<string>().as('count')).executeTakeFirstOrThrow() : null,
  ]);
  return toPage(rows, page.first, total === null ? null : Number(total.count));
}
