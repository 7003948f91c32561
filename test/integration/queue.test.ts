import { randomUUID } from 'node:crypto';
import { PgBoss } from 'pg-boss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError, isAppError } from '../../src/core/errors.ts';
import { createLogger } from '../../src/core/logger.ts';
import { JobQueue, jobNames, type JobName } from '../../src/core/queue.ts';
import { Business } from '../../src/entities/business.entity.ts';
import { eventually } from '../support/calls.ts';
import { useTestDatabase } from '../support/database.ts';

/** Polls pg-boss until the job reaches a final state. */
async function settled(queue: JobQueue, name: JobName, id: string) {
  const job = await eventually(() => queue.getJob(name, id), (found) => found?.state === 'completed' || found?.state === 'failed', `job ${id} to settle`, 20_000);
  return job!;
}

describe('job queue', () => {
  const db = useTestDatabase();
  let queue: JobQueue;

  beforeAll(async () => {
    queue = await JobQueue.start({ url: db.database.url, logger: createLogger({ level: 'silent' }) });
  });
  afterAll(async () => {
    await queue?.stop(1000);
  });

  it('reads queue depths with one query shared by every read within its age, every queue in four states', async () => {
    const first = queue.depths(60_000);
    // A second scrape meanwhile gets the same read, not a second query.
    expect(queue.depths(60_000)).toBe(first);
    const depths = await first;
    expect(depths).toHaveLength(jobNames.length * 4);
    expect(new Set(depths.map((depth) => depth.queue))).toEqual(new Set(jobNames));
    // Past its age the next read asks again.
    const again = queue.depths(0);
    expect(again).not.toBe(first);
    await again;
  });

  it('refuses to send a payload that does not match the job map', async () => {
    const send = queue.send('call.process', { callId: 'not-a-uuid' });
    await expect(send).rejects.toSatisfy(
      (error) => isAppError(error, 'JOB_PAYLOAD_INVALID') && /call\.process.*callId/.test(error.message),
    );
  });

  it('fails a job whose stored payload is invalid with a clear error, without retrying it', async () => {
    // A job written by an older deploy (or by hand) bypasses send()'s check.
    const raw = new PgBoss({ connectionString: db.database.url, schema: 'pgboss', max: 1, supervise: false, schedule: false });
    raw.on('error', () => {});
    await raw.start();
    const id = await raw.send('webhook.deliver', { delivery: 42 });
    await raw.stop({ graceful: false });
    expect(id).toBeTruthy();

    let handlerRan = false;
    await queue.work('webhook.deliver', async () => {
      handlerRan = true;
    }, { pollingIntervalSeconds: 0.5 });

    const job = await settled(queue, 'webhook.deliver', id!);
    expect(job.state).toBe('failed');
    expect(job.retryCount).toBe(0);
    expect(job.output).toMatchObject({
      code: 'JOB_PAYLOAD_INVALID',
      message: expect.stringMatching(/^invalid payload for job webhook\.deliver: deliveryId: /),
    });
    expect(handlerRan).toBe(false);
  });

  it('enqueues inside the caller\'s transaction: rolled back, the job is gone; committed, it exists', async () => {
    const callId = randomUUID();
    let rolledBackJobId: string | null = null;
    await expect(
      db.orm.em.fork().transactional(async (em) => {
        em.create(Business, { name: 'Rolled back' });
        await em.flush();
        rolledBackJobId = await queue.send('outbound.dial', { outboundJobId: callId }, { em });
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    expect(rolledBackJobId).toBeTruthy();
    expect(await queue.getJob('outbound.dial', rolledBackJobId!)).toBeNull();
    expect(await db.orm.em.fork().count(Business, { name: 'Rolled back' })).toBe(0);

    const committedJobId = await db.orm.em.fork().transactional(async (em) => {
      em.create(Business, { name: 'Committed' });
      await em.flush();
      return queue.send('outbound.dial', { outboundJobId: callId }, { em });
    });
    expect(await queue.getJob('outbound.dial', committedJobId!)).toMatchObject({ data: { outboundJobId: callId } });
  });

  it('ignores a second job with the same id', async () => {
    const id = randomUUID();
    const payload = { callId: randomUUID() };
    const startAfter = new Date(Date.now() + 3_600_000);
    expect(await queue.send('call.process', payload, { id, startAfter })).toBe(id);
    expect(await queue.send('call.process', payload, { id, startAfter })).toBeNull();
  });

  it('ends a job at once on a non-retryable error and retries a retryable one', async () => {
    const permanent = randomUUID();
    const transient = randomUUID();
    const attempts = new Map<string, number>();
    await queue.work('call.process', async ({ callId }, { retryCount }) => {
      attempts.set(callId, (attempts.get(callId) ?? 0) + 1);
      if (callId === permanent) throw new AppError('VALIDATION_FAILED', 'call is not processable');
      if (retryCount === 0) throw new AppError('UPSTREAM_FAILED', 'try again', { retryable: true });
    }, { pollingIntervalSeconds: 0.5 });
    const permanentJob = await queue.send('call.process', { callId: permanent });
    // The retry waits for the queue's real backoff (about 5 s): the policy under test.
    const transientJob = await queue.send('call.process', { callId: transient });

    const failed = await settled(queue, 'call.process', permanentJob!);
    expect(failed).toMatchObject({ state: 'failed', retryCount: 0, output: { code: 'VALIDATION_FAILED' } });
    expect(attempts.get(permanent)).toBe(1);

    const completed = await settled(queue, 'call.process', transientJob!);
    expect(completed).toMatchObject({ state: 'completed', retryCount: 1 });
    expect(attempts.get(transient)).toBe(2);
  });
});
