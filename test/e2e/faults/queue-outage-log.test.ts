import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../../src/core/embedded-postgres.ts';
import { JobQueue } from '../../../src/core/queue.ts';
import { freePort } from '../../../src/sandbox/ports.ts';
import { eventually } from '../../support/calls.ts';
import { capturingLogger } from '../../support/logs.ts';

/**
 * The job queue's Postgres goes away (a server this test owns, stopped under it) while its
 * workers poll. Regression: every failed poll and connection was one `queue error` line,
 * ≈ 30 a second (401 lines in a 12.6 s outage). Now each kind of error (its code) is one
 * line per 10 s that says how many it stands for.
 */

const windowMs = 21_000;

describe('the job queue while its database is down', () => {
  let dir: string;
  let server: EmbeddedPostgres;
  let queue: JobQueue | undefined;
  const { logger, lines } = capturingLogger('info');
  const queueErrors = () => lines.filter((line) => line.msg === 'queue error');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'i19-jobs-queue-outage-'));
    // As root, postgres runs as its own OS user and must be able to enter this directory.
    chmodSync(dir, 0o755);
    server = await startEmbeddedPostgres({ dataDir: join(dir, 'postgres'), port: await freePort() });
    queue = await JobQueue.start({ url: server.url, logger, poolSize: 2 });
    // Several workers polling twice a second, as a worker process has.
    for (const name of ['call.process', 'webhook.deliver', 'recording.reconcile'] as const) await queue.work(name, async () => {}, { pollingIntervalSeconds: 0.5 });
  }, 60_000);
  afterAll(async () => {
    await queue?.stop(1000);
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('logs one line per kind of error per 10 s, with the count of those held back', { timeout: 60_000 }, async () => {
    await server.stop();
    const [first] = await eventually(queueErrors, (found) => found.length > 0, 'the first queue error');
    const start = first!.time as number;
    // The window is read from the lines' own timestamps once it has passed.
    await eventually(() => lines.at(-1)?.time as number | undefined, () => Date.now() - start > windowMs, 'the window to pass', windowMs + 5_000);
    const inWindow = queueErrors().filter((line) => (line.time as number) - start <= windowMs);
    const byCode = Map.groupBy(inWindow, (line) => String(line.code ?? ''));
    const counts = Object.fromEntries([...byCode].map(([code, found]) => [code, found.length]));
    const heldBack = inWindow.reduce((sum, line) => sum + Number(line.suppressed ?? 0), 0);
    console.log(`queue error lines in ${windowMs / 1000} s of outage, by code: ${JSON.stringify(counts)}; errors they stand for: ${inWindow.length + heldBack}`);
    // 21 s holds at most three 10-second intervals per kind of error.
    for (const [code, found] of byCode) expect(found.length, `lines for code ${code}`).toBeLessThanOrEqual(3);
    expect(byCode.size).toBeLessThanOrEqual(3);
    // The lines say how much they stand for: the outage was not quiet, only its log.
    expect(heldBack).toBeGreaterThan(10);
  });
});
