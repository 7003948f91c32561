import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/core/logger.ts';
import { JobQueue } from '../../../src/core/queue.ts';
import { eventually } from '../../support/calls.ts';
import { useTestDatabase } from '../../support/database.ts';

/**
 * A worker that is told to stop (SIGTERM: the queue's graceful stop, after the calls) while
 * a job runs past SHUTDOWN_TIMEOUT_MS: the job is not left `active` until it expires — it is
 * handed back to the queue at once, as a failed attempt, and the next worker finishes it.
 */
describe('a worker stopping with a job still running', () => {
  const db = useTestDatabase();
  const queues: JobQueue[] = [];
  afterAll(async () => {
    await Promise.all(queues.map((queue) => queue.stop(1000)));
  });
  const start = async () => {
    const queue = await JobQueue.start({ url: db.database.url, logger: createLogger({ level: 'silent' }) });
    queues.push(queue);
    return queue;
  };

  it('releases the job when its time is up, and another worker completes it', async () => {
    const leaving = await start();
    const staying = await start();
    const callId = randomUUID();
    const runs: string[] = [];
    let started: () => void = () => {};
    const running = new Promise<void>((resolve) => (started = resolve));
    // The leaving worker's run outlasts the stop's wait: it ends only when pg-boss aborts it.
    await leaving.work('call.process', async (_payload, { signal }) => {
      runs.push('leaving');
      started();
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      throw new Error('stopped');
    }, { pollingIntervalSeconds: 0.5 });
    const id = (await leaving.send('call.process', { callId }))!;
    await running;

    await leaving.stop(1000);
    const released = await staying.getJob('call.process', id);
    expect(released?.state).toBe('retry');

    await staying.work('call.process', async () => {
      runs.push('staying');
    }, { pollingIntervalSeconds: 0.5 });
    const done = await eventually(() => staying.getJob('call.process', id), (job) => job?.state === 'completed', 'the job completed by the other worker', 30_000);
    expect(done?.retryCount).toBe(1);
    expect(runs).toEqual(['leaving', 'staying']);
  }, 60_000);
});
