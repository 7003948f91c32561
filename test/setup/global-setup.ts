import { mkdtempSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { withDatabase, withPgClient } from '../../src/core/db.ts';
import { migrate, openOrm } from '../../src/database.ts';
import { startEmbeddedPostgres } from '../../src/core/embedded-postgres.ts';
import { JobQueue } from '../../src/core/queue.ts';
import { createLogger } from '../../src/core/logger.ts';
import { freePort } from '../../src/sandbox/ports.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A URL of the test server; each test file clones the template into a database of its own. */
    databaseServerUrl: string;
    templateDatabase: string;
    /** Prefix of every database this run creates, so teardown can drop leftovers. */
    databasePrefix: string;
  }
}

interface DatabaseServer {
  context: { databaseServerUrl: string; templateDatabase: string; databasePrefix: string };
  stop: () => Promise<void>;
}

/**
 * The server the projects of this run share. Each project that lists this file (integration,
 * e2e) runs it in the same main process but evaluates the module on its own, so the handle
 * lives on globalThis: the first project starts the server, the last teardown stops it.
 */
const sharedKey = Symbol.for('callwatch.test.databaseServer');
type Shared = { users: number; server: Promise<DatabaseServer> };
const holder = globalThis as { [sharedKey]?: Shared };

/**
 * Gives the project one PostgreSQL for the whole run — started by whichever project comes
 * first, so a run of both integration and e2e starts one server and a unit-only run none.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const shared = (holder[sharedKey] ??= { users: 0, server: startDatabaseServer() });
  shared.users += 1;
  const { context, stop } = await shared.server;
  project.provide('databaseServerUrl', context.databaseServerUrl);
  project.provide('templateDatabase', context.templateDatabase);
  project.provide('databasePrefix', context.databasePrefix);
  return async () => {
    shared.users -= 1;
    if (shared.users > 0) return;
    delete holder[sharedKey];
    await stop();
  };
}

/**
 * Starts PostgreSQL — the server at DATABASE_URL when set, else an embedded server in a
 * temporary directory — and prepares a template database with every migration and the job
 * queue's schema, which each test file then clones (fast, isolated).
 */
async function startDatabaseServer(): Promise<DatabaseServer> {
  const prefix = `cw_test_${process.pid}`;
  let serverUrl: string;
  let stopServer = async () => {};
  let tempDir: string | undefined;

  if (process.env.DATABASE_URL) {
    serverUrl = process.env.DATABASE_URL;
  } else {
    tempDir = mkdtempSync(join(tmpdir(), 'callwatch-test-'));
    // As root, postgres runs as its own OS user and must be able to enter this directory.
    chmodSync(tempDir, 0o755);
    const server = await startEmbeddedPostgres({ dataDir: join(tempDir, 'postgres'), port: await freePort() });
    serverUrl = server.url;
    stopServer = server.stop;
  }

  const template = `${prefix}_template`;
  await withPgClient(serverUrl, async (client) => {
    await client.query(`drop database if exists ${template} with (force)`);
    await client.query(`create database ${template}`);
  });
  const templateUrl = withDatabase(serverUrl, template);
  const orm = await openOrm(templateUrl, { poolSize: 2 });
  try {
    await migrate(orm);
  } finally {
    await orm.close();
  }
  const queue = await JobQueue.start({ url: templateUrl, logger: createLogger({ level: 'silent' }), poolSize: 1 });
  await queue.stop(0);

  const stop = async () => {
    await withPgClient(serverUrl, async (client) => {
      const { rows } = await client.query<{ datname: string }>(
        'select datname from pg_database where datname like $1',
        [`${prefix}%`],
      );
      for (const { datname } of rows) await client.query(`drop database if exists "${datname}" with (force)`);
    });
    await stopServer();
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
  };
  return { context: { databaseServerUrl: serverUrl, templateDatabase: template, databasePrefix: prefix }, stop };
}
