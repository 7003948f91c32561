import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withPgClient } from '../../../src/core/db.ts';
import { JobQueue } from '../../../src/core/queue.ts';
import { eventually } from '../../support/calls.ts';
import { createTestDatabase, type TestDatabase } from '../../support/database.ts';
import { capturingLogger } from '../../support/logs.ts';

/**
 * Threat: the job queue fails (its database connections cut, its tables unreachable) and
 * the log says only `"err":"[object Object]"` — pg-boss spreads a worker's error into a
 * plain object — so an outage cannot be diagnosed (security review F15, seen during F2).
 * Defence: every pg-boss `error` event is logged with its message and its code (SQLSTATE
 * or Node code), and the queue and worker when a worker's fetch failed.
 */

describe('job queue errors in the log', () => {
  let database: TestDatabase;
  let queue: JobQueue;
  const { logger, lines } = capturingLogger('info');
  const queueErrors = () => lines.filter((line) => line.msg === 'queue error');

  beforeAll(async () => {
    database = await createTestDatabase();
    // Every line, unthrottled: this file checks what a line says (test/e2e/faults/queue-outage-log.test.ts checks how often).
    queue = await JobQueue.start({ url: database.url, logger, superviseIntervalSeconds: 1, errorLogIntervalMs: 0 });
    await queue.work('call.process', async () => {}, { pollingIntervalSeconds: 0.5 });
  });
  afterAll(async () => {
    await withPgClient(database.url, (client) => client.query('alter schema if exists pgboss_moved rename to pgboss')).catch(() => {});
    await queue?.stop(1000);
    await database?.drop();
  });

  it('logs a worker whose fetch fails with the message, the SQLSTATE and the queue', async () => {
    await withPgClient(database.url, (client) => client.query('alter schema pgboss rename to pgboss_moved'));
    const [line] = await eventually(() => queueErrors().filter((entry) => entry.queue === 'call.process'), (found) => found.length > 0, 'a worker error in the log');
    expect(line).toMatchObject({ level: 50, code: '42P01' });
    expect(line!.err).toMatch(/relation "pgboss\..*" does not exist/);
    expect(line!.worker).toEqual(expect.any(String));
    await withPgClient(database.url, (client) => client.query('alter schema pgboss_moved rename to pgboss'));
  });

  it('logs connections cut under it with the message and the SQLSTATE', async () => {
    const before = queueErrors().length;
    await withPgClient(database.url, (client) =>
      client.query("select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'callwatch-queue' and datname = current_database()"),
    );
    const cut = await eventually(() => queueErrors().slice(before).filter((entry) => entry.code === '57P01'), (found) => found.length > 0, 'a terminated connection in the log');
    expect(cut[0]!.err).toBe('terminating connection due to administrator command');
  });

  it('never logs [object Object]', () => {
    expect(queueErrors().length).toBeGreaterThan(0);
    for (const line of queueErrors()) expect(line.err).not.toContain('[object Object]');
  });
});
