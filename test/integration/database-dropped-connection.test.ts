import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Orm } from '../../src/core/db.ts';
import { openOrm } from '../../src/database.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

/**
 * Fault: Postgres drops a pooled connection (a restart, a failover, pg_terminate_backend)
 * just as a transaction begins on it. kysely's transactions (MikroORM's) never release a
 * connection whose BEGIN failed, so each such blip used to leak a pool slot for good: the
 * pool shrank until it served nothing, and `orm.close()` waited forever at shutdown.
 */
describe('a pooled connection dropped as a transaction begins on it', () => {
  let database: TestDatabase;
  let orm: Orm;

  beforeAll(async () => {
    database = await createTestDatabase();
    orm = await openOrm(database.url, { poolSize: 1 });
  });
  afterAll(async () => {
    await database.drop();
  });

  it('is handed back to the pool: the next statement gets a new connection, and the ORM closes', { timeout: 30_000 }, async () => {
    const pool = (await orm.driver.getConnection().getNativeClient()) as pg.Pool;
    await orm.em.fork().execute('select 1');
    // The connection drops the moment the transaction takes it from the pool, as when
    // Postgres restarts between two statements: its BEGIN fails.
    pool.once('acquire', (client: pg.PoolClient & { connection: { stream: { destroy: () => void } } }) => client.connection.stream.destroy());
    await expect(orm.em.fork().transactional((em) => em.execute('select 1'))).rejects.toThrow();

    // With the slot leaked, a pool of one would wait here forever.
    const [row] = await orm.em.fork().execute<{ ok: number }[]>('select 1 as ok');
    expect(row).toEqual({ ok: 1 });
    const closed = await Promise.race([orm.close().then(() => 'closed'), new Promise((resolve) => setTimeout(() => resolve('hung'), 5_000))]);
    expect(closed).toBe('closed');
  });
});
