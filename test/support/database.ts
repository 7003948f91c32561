import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, inject } from 'vitest';
import { withDatabase, withPgClient, type Orm } from '../../src/core/db.ts';
import { openOrm } from '../../src/database.ts';

export interface TestDatabase {
  url: string;
  name: string;
  drop: () => Promise<void>;
}

/**
 * A database of this test file's own, cloned from the migrated template: every table and
 * the job queue's schema are there, and nothing another file writes is visible.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const serverUrl = inject('databaseServerUrl');
  const name = `${inject('databasePrefix')}_${randomBytes(5).toString('hex')}`;
  await withPgClient(serverUrl, (client) => client.query(`create database ${name} template ${inject('templateDatabase')}`));
  return {
    url: withDatabase(serverUrl, name),
    name,
    drop: () => withPgClient(serverUrl, (client) => client.query(`drop database if exists ${name} with (force)`)).then(() => {}),
  };
}


export interface TestDatabaseContext {
  database: TestDatabase;
  orm: Orm;
}

/**
 * Gives the calling test file (or describe block) a database of its own and an ORM on it,
 * opened before its tests and closed and dropped after them. Read the fields inside tests.
 */
export function useTestDatabase(): TestDatabaseContext {
  const context = {} as TestDatabaseContext;
  beforeAll(async () => {
    context.database = await createTestDatabase();
    context.orm = await openOrm(context.database.url);
  });
  afterAll(async () => {
    await context.orm?.close();
    await context.database?.drop();
  });
  return context;
}
