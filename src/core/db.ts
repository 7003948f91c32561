import { join } from 'node:path';
import { MikroORM, type EntityManager } from '@mikro-orm/postgresql';
import type { MigrationObject, Options } from '@mikro-orm/core';
import { Migrator } from '@mikro-orm/migrations';
import pg from 'pg';
import { startEmbeddedPostgres } from './embedded-postgres.ts';
import { AppError, describeError } from './errors.ts';
import type { Logger } from './logger.ts';

export type { EntityManager };
export type Orm = MikroORM;

/**
 * What an ORM is opened over: the application's entities and migrations. The composition
 * root (src/database.ts) hands them in, so core/ imports nothing above it.
 */
export interface OrmModel {
  entities: NonNullable<Options['entities']>;
  migrations: MigrationObject[];
}

export interface OrmOptions {
  /** Connections in the pool. */
  poolSize?: number;
  /**
   * Called with every statement sent to Postgres on this ORM's connections — ORM queries,
   * transaction control, raw SQL and jobs enqueued inside an ORM transaction alike.
   * Tests count statements with it; it is unset in production.
   */
  onStatement?: (sql: string) => void;
}

/**
 * Opens the ORM on `url` and checks the connection right away (MikroORM 7 connects lazily,
 * which would turn a wrong URL into a failure at the first request).
 */
export async function openOrmOver(url: string, model: OrmModel, options: OrmOptions = {}): Promise<Orm> {
  const { onStatement } = options;
  const orm: Orm = await MikroORM.init({
    entities: model.entities,
    clientUrl: url,
    debug: false,
    ensureDatabase: false,
    pool: { min: 0, max: options.poolSize ?? 10 },
    extensions: [Migrator],
    migrations: { migrationsList: model.migrations, snapshot: false, silent: true, transactional: true },
    onCreateConnection: onStatement ? async (connection) => observeStatements(connection, onStatement) : undefined,
    driverOptions: { onPoolCreated: releaseDroppedConnections },
  });
  try {
    await orm.connect();
  } catch (error) {
    await orm.close(true);
    throw new AppError('DATABASE_UNAVAILABLE', `cannot connect to PostgreSQL: ${describeError(error)}`, {
      cause: error,
      retryable: true,
    });
  }
  return orm;
}

/**
 * kysely (0.29) never releases the connection of a transaction whose BEGIN failed
 * (ControlledTransactionBuilder.execute), and MikroORM's transactions are built on it: each
 * BEGIN sent on a connection Postgres had just dropped (a restart, a failover, a terminated
 * backend) leaked a pool slot for good — the pool shrank with every blip until it served
 * nothing, and `orm.close()` waited for the leaked slots forever. So a connection that ends
 * while checked out is handed back to the pool (which discards it) at once; its holder's own
 * release, if it ever comes, is then a no-op. test/integration/database-dropped-connection.test.ts.
 */
function releaseDroppedConnections(pool: pg.Pool): void {
  const connect = pool.connect.bind(pool) as () => Promise<pg.PoolClient>;
  // Only the promise form is wrapped: it is the one kysely and MikroORM use.
  pool.connect = ((callback?: unknown) => {
    if (callback !== undefined) return (pool.constructor as typeof pg.Pool).prototype.connect.call(pool, callback as never);
    return connect().then(guardRelease);
  }) as typeof pool.connect;
}

function guardRelease(client: pg.PoolClient): pg.PoolClient {
  const release = client.release.bind(client);
  let released = false;
  const onEnd = () => client.release(new Error('the connection ended while checked out'));
  client.release = (error?: Error | boolean) => {
    if (released) return;
    released = true;
    client.off('end', onEnd);
    release(error);
  };
  client.once('end', onEnd);
  return client;
}

/** An arbitrary 64-bit key; every Callwatch process migrating one database takes this lock. */
const migrationLockKey = 7_274_119_004;

/**
 * Applies pending migrations and returns their names. Safe to run from several processes at
 * once: the migrator itself takes no lock, so the whole run happens inside one transaction
 * that first takes a Postgres advisory lock; latecomers wait, then find nothing pending.
 * The migrator reads its bookkeeping on a second connection, so the ORM's pool needs at
 * least two (with one, this waits forever). `after` runs in the same transaction, under the
 * same lock, once the migrations are applied.
 */
export async function migrateWith(orm: Orm, after?: (em: EntityManager) => Promise<unknown>): Promise<string[]> {
  const ran = await withMigrationLock(orm, async (em) => {
    const applied = await orm.migrator.up({ transaction: em.getTransactionContext() });
    if (after) await after(em);
    return applied;
  });
  return ran.map((migration) => migration.name);
}

/** Runs `work` in one transaction holding the lock migrations take. */
export function withMigrationLock<T>(orm: Orm, work: (em: EntityManager) => Promise<T>): Promise<T> {
  return orm.em.fork().transactional(async (em) => {
    await em.execute(`select pg_advisory_xact_lock(${migrationLockKey})`);
    return work(em);
  });
}

interface KyselyConnection {
  executeQuery: (query: { sql: string }, ...rest: unknown[]) => Promise<unknown>;
}

function observeStatements(connection: unknown, onStatement: (sql: string) => void): void {
  const target = connection as KyselyConnection;
  const execute = target.executeQuery.bind(target);
  target.executeQuery = (query, ...rest) => {
    onStatement(query.sql);
    return execute(query, ...rest);
  };
}

export interface DatabaseServer {
  /** URL of Callwatch's database. */
  url: string;
  /** Whether the server is the embedded one this process started. */
  embedded: boolean;
  stop: () => Promise<void>;
}

export interface DatabaseServerOptions {
  databaseUrl: string | undefined;
  dataDir: string;
  embeddedPort: number;
  logger: Logger;
  /** Called if the embedded server dies while Callwatch runs and cannot be restarted. */
  onFatal?: (reason: string) => void;
}

/** Name of Callwatch's database inside the embedded server. */
const embeddedDatabaseName = 'callwatch';

/**
 * Uses DATABASE_URL when it is set; otherwise starts the embedded PostgreSQL under
 * DATA_DIR/postgres (data kept across restarts) and makes sure its `callwatch` database exists.
 */
export async function openDatabaseServer(options: DatabaseServerOptions): Promise<DatabaseServer> {
  if (options.databaseUrl) return { url: options.databaseUrl, embedded: false, stop: async () => {} };

  const dataDir = join(options.dataDir, 'postgres');
  const startedAt = performance.now();
  const server = await startEmbeddedPostgres({
    dataDir,
    port: options.embeddedPort,
    logger: options.logger.child({ component: 'embedded-postgres' }),
    onFatal: options.onFatal,
  });
  try {
    await ensureDatabase(server.url, embeddedDatabaseName);
  } catch (error) {
    await server.stop();
    throw error;
  }
  options.logger.info(
    { dataDir, port: options.embeddedPort, ms: Math.round(performance.now() - startedAt), shared: !server.owned },
    server.owned ? 'embedded postgres started' : 'embedded postgres already running: sharing it',
  );
  return { url: withDatabase(server.url, embeddedDatabaseName), embedded: true, stop: server.stop };
}

/** Creates `name` on the server at `serverUrl` unless it exists. */
export async function ensureDatabase(serverUrl: string, name: string): Promise<void> {
  await withPgClient(serverUrl, async (client) => {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (rowCount === 0) await client.query(`create database "${name.replaceAll('"', '""')}"`);
  });
}

/**
 * Runs `work` on a single plain connection to `url`, closed afterwards whatever happens —
 * for what the ORM's pool cannot do, such as creating or dropping databases.
 */
export async function withPgClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** `url` with its database name replaced. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.toString();
}
