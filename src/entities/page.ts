import { sql as raw, type RawBuilder, type SqlBool } from 'kysely';

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
