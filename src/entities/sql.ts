import type { EntityName } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { InferKyselyDB, Kysely } from '@mikro-orm/sql';
import type { Expression, RawBuilder } from 'kysely';
import { jsonObjectFrom } from 'kysely/helpers/postgres';
import { entities } from './index.ts';

const options = {
  tableNamingStrategy: 'entity',
  columnNamingStrategy: 'property',
  convertValues: true,
  // Inserts and updates through Kysely get the entities' ids, timestamps and defaults too.
  processOnCreateHooks: true,
  processOnUpdateHooks: true,
} as const;

/** The database as typed Kysely sees it: tables by entity name, columns by property name. */
export type Database = InferKyselyDB<(typeof entities)[number], typeof options>;

/**
 * A row as queries return it: the entity's plain data, relations as their ids. Queries read
 * rows, not managed entities — hydrating entities into an identity map costs several times
 * the query itself, and at call start that cost sits on the critical path.
 */
export type Row<T> = {
  [K in keyof T]: NonNullable<T[K]> extends { id: infer Id } ? Id | Extract<T[K], null | undefined> : T[K];
};

/**
 * Typed Kysely over `em` (it joins `em`'s transaction, if any): tables by entity name,
 * columns by property name, results as `Row`s.
 */
export function sql(em: EntityManager): Kysely<Database> {
  return em.getKysely<Database>(options);
}

declare const columnKeyed: unique symbol;

/**
 * A row Postgres serialised as JSON: keyed by COLUMN name (`starts_at`), timestamps as
 * strings. Opaque on purpose — Kysely's types would call it property-keyed, which it is
 * not — so the only way to read it is `rowFromJson`.
 */
export interface JsonRow {
  readonly [columnKeyed]: true;
}

/**
 * Kysely's `jsonObjectFrom` (the subquery's first row as JSON, or null), typed as what it
 * really returns here: our Kysely maps property names to columns on the way in and maps
 * result columns back only at the top level, so the JSON keeps the column names.
 */
export function jsonRowFrom(query: Expression<object>): RawBuilder<JsonRow | null> {
  return jsonObjectFrom(query).$castTo<JsonRow | null>();
}

/**
 * Turns a row Postgres serialised as JSON (`jsonRowFrom`, `to_json(table)`) into the
 * `Row` a query would have returned, with the columns the JSON holds. Lets one statement
 * carry a related row along (e.g. a call page with each call's lead) without a second
 * round trip.
 */
export function rowFromJson<T extends object>(em: EntityManager, entity: EntityName<T>, json: JsonRow): Row<T> {
  const columns = json as unknown as Record<string, unknown>;
  const row: Record<string, unknown> = {};
  for (const prop of em.getMetadata().get(entity).props) {
    const column = prop.fieldNames?.[0];
    if (column === undefined || !(column in columns)) continue;
    const value = columns[column];
    row[prop.name] = value !== null && prop.runtimeType === 'Date' ? new Date(value as string) : value;
  }
  return row as Row<T>;
}

/**
 * Whether an update has anything to write. GraphQL leaves fields a client did not send
 * `undefined`, and Kysely skips undefined values, so only defined ones count.
 */
export function hasChanges(changes: object): boolean {
  return Object.values(changes).some((value) => value !== undefined);
}
