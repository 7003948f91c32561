import type { EntityName } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { InferKyselyDB, Kysely } from '@mikro-orm/sql';
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

/**
 * Turns a row Postgres serialised as JSON (`to_json(table)`: column names, timestamps as
 * strings) into the `Row` a query would have returned. Lets one statement carry a related
 * row along (e.g. a call page with each call's lead) without a second round trip.
 */
export function rowFromJson<T extends object>(em: EntityManager, entity: EntityName<T>, json: Record<string, unknown>): Row<T> {
  const row: Record<string, unknown> = {};
  for (const prop of em.getMetadata().get(entity).props) {
    const column = prop.fieldNames?.[0];
    if (column === undefined || !(column in json)) continue;
    const value = json[column];
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
