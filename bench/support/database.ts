import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDatabase, withDatabase, withPgClient } from '../../src/core/db.ts';
import { freePort } from '../../src/sandbox/ports.ts';
import { startEmbeddedPostgres } from '../../src/core/embedded-postgres.ts';

export interface BenchDatabase {
  /** URL of a database of this run's own, empty (Callwatch migrates it at start). */
  url: string;
  /** Where it runs, for the report: `DATABASE_URL` or `embedded PostgreSQL`. */
  server: string;
  /** Drops the database (DATABASE_URL) or stops the embedded server and removes its directory. */
  stop: () => Promise<void>;
}

/**
 * A database for one benchmark run. With DATABASE_URL set, a fresh database on that server
 * (dropped afterwards); otherwise an embedded PostgreSQL in a temporary directory on a free
 * port, removed afterwards.
 */
export async function startBenchDatabase(): Promise<BenchDatabase> {
  const name = `callwatch_bench_${process.pid}`;
  const external = process.env.DATABASE_URL;
  if (external) {
    await withPgClient(external, (client) => client.query(`drop database if exists ${name} with (force)`));
    await ensureDatabase(external, name);
    return {
      url: withDatabase(external, name),
      server: 'DATABASE_URL',
      stop: () => withPgClient(external, (client) => client.query(`drop database if exists ${name} with (force)`)).then(() => {}),
    };
  }

  const dir = mkdtempSync(join(tmpdir(), 'callwatch-bench-'));
  // As root, postgres runs as its own OS user and must be able to enter this directory.
  chmodSync(dir, 0o755);
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  // The server itself is killed by startEmbeddedPostgres's own exit hook if we crash.
  process.once('exit', removeDir);
  try {
    const server = await startEmbeddedPostgres({ dataDir: join(dir, 'postgres'), port: await freePort() });
    try {
      await ensureDatabase(server.url, name);
    } catch (error) {
      await server.stop();
      throw error;
    }
    return {
      url: withDatabase(server.url, name),
      server: 'embedded PostgreSQL (temporary directory)',
      async stop() {
        await server.stop();
        removeDir();
        process.off('exit', removeDir);
      },
    };
  } catch (error) {
    removeDir();
    process.off('exit', removeDir);
    throw error;
  }
}
