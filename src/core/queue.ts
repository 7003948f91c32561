import { PgBoss, fromKysely, type Job, type JobResult, type JobWithMetadata } from 'pg-boss';
import type { EntityManager } from './db.ts';
import { AppError, describeError, errorCode, isAppError } from './errors.ts';
import { jobDefinitions, jobNames, type JobName, type JobPayload } from './jobs.ts';
import { LogThrottle } from './log-throttle.ts';
import type { Logger } from './logger.ts';
import { contextFromTraceparent, endSpan, SpanKind, startSpan, type Span } from './tracing.ts';

export { jobDefinitions, jobNames, type JobName, type JobPayload };

export interface JobContext {
  jobId: string;
  /** How many earlier attempts of this job failed. */
  retryCount: number;
  /** No retry follows if this attempt fails: a step may give up and record why instead. */
  lastAttempt: boolean;
  /** Aborted when the queue shuts down while the job runs or the job's claim lapses. */
  signal: AbortSignal;
  logger: Logger;
  /**
   * This attempt's span (a child of the trace the job was sent in, when its data carries
   * one): the parent of the handler's own spans, and `traceparentOf` it for the jobs it sends.
   */
  span?: Span;
}

export type JobHandler<N extends JobName> = (payload: JobPayload<N>, context: JobContext) => Promise<void>;

export interface SendOptions {
  /**
   * Enqueue inside this entity manager's open transaction: the job exists if and only if
   * the transaction commits (the write that causes a job and the job are one unit).
   */
  em?: EntityManager;
  /** Run no earlier than this. */
  startAfter?: Date;
  /** A job id of the caller's choosing; a second send with the same id is ignored (null). */
  id?: string;
  /**
   * The W3C traceparent of the span that causes the job (a call's, a job's): kept in the
   * job's data beside the payload, so the job's span joins that trace.
   */
  traceparent?: string;
}

export interface WorkOptions {
  /** Jobs of this queue that run at once in this process, at most (see claimBatchSize). Default 1. */
  concurrency?: number;
  /**
   * How often an idle worker looks for jobs. Default 2 s; pg-boss's minimum is 0.5 s. New
   * jobs wake workers at once (LISTEN/NOTIFY); polling is what finds jobs scheduled for
   * later (`startAfter`, retries) once they fall due, so it bounds how late those start.
   */
  pollingIntervalSeconds?: number;
}

export interface QueueOptions {
  url: string;
  logger: Logger;
  /** Postgres schema pg-boss keeps its tables in. */
  schema?: string;
  poolSize?: number;
  /**
   * How often a job whose worker stopped sending heartbeats (or that ran past its expiry) is
   * looked for and failed, so that it is retried. Default 5 s. One instance does it per
   * interval across the deployment (pg-boss claims the pass per queue).
   */
  superviseIntervalSeconds?: number;
  /** Queue errors of one kind are logged at most once per this interval, with a count. Default 10 s. */
  errorLogIntervalMs?: number;
}

/**
 * The job queue: pg-boss on Callwatch's own database, in its own schema, behind the typed
 * job map of jobs.ts. Payloads are checked when sent and again when the job starts.
 *
 * Failure semantics, per job: a handler that returns completes the job; an error marked
 * `retryable: false` (or an invalid payload) fails it at once with the error as its output;
 * any other error fails this attempt and pg-boss retries by the queue's policy.
 */
export class JobQueue {
  readonly #boss: PgBoss;
  readonly #logger: Logger;
  #stopped = false;
  #depths: { at: number; result: Promise<QueueDepth[]> } | undefined;

  private constructor(boss: PgBoss, logger: Logger) {
    this.#boss = boss;
    this.#logger = logger;
  }

  /** Starts pg-boss (installing or migrating its schema) and creates every queue. */
  static async start(options: QueueOptions): Promise<JobQueue> {
    const logger = options.logger.child({ component: 'queue' });
    const superviseSeconds = options.superviseIntervalSeconds ?? 5;
    const boss = new PgBoss({
      connectionString: options.url,
      schema: options.schema ?? 'pgboss',
      max: options.poolSize ?? 4,
      application_name: 'callwatch-queue',
      // pg-boss fails jobs with a stale heartbeat only in its monitor pass, which runs when both
      // timers are due; its default monitor interval (60 s) is what made a dead worker's job
      // wait ≈ 60 s. With both at 5 s a SIGKILLed worker's job is retried within
      // heartbeat (10 s) + 5 s + the queue's first retry delay + a poll: ≈ 15–20 s, under 30 s.
      // The same pass refreshes pg-boss's queue counts (one aggregate over the job table,
      // claimed by one instance per interval), so that now runs every 5 s rather than 60.
      superviseIntervalSeconds: superviseSeconds,
      monitorIntervalSeconds: superviseSeconds,
      // Queues with `notify` wake their workers the moment a job is committed, so no job
      // waits for a poll; polling remains as pg-boss's backstop.
      useListenNotify: true,
    });
    // Pool and worker errors arrive here; without a listener the first one would crash
    // the process. They are logged and pg-boss retries on its own. While Postgres is down
    // every worker's poll and every pool connection fails (≈ 30 a second): each kind of
    // error (its code) is logged once per interval with how many it stands for.
    const throttles = new Map<string, LogThrottle>();
    const errorLogIntervalMs = options.errorLogIntervalMs ?? 10_000;
    boss.on('error', (error: unknown) => {
      const fields = queueErrorFields(error);
      let throttle = throttles.get(fields.code ?? '');
      if (!throttle) throttles.set(fields.code ?? '', (throttle = new LogThrottle(errorLogIntervalMs)));
      const due = throttle.take();
      if (due) logger.error({ ...fields, suppressed: due.suppressed }, 'queue error');
    });
    boss.on('warning', (warning: { message: string }) => logger.warn({ warning: warning.message }, 'queue warning'));
    const queue = new JobQueue(boss, logger);
    try {
      await boss.start();
      for (const name of jobNames) {
        const definition = jobDefinitions[name];
        const options = definition.queue;
        // createQueue leaves an existing queue as it is: bring its policy up to this build's.
        await boss.createQueue(name, { ...options });
        await boss.updateQueue(name, { ...options });
        // An upsert of the queue's one schedule: every instance may write it, pg-boss's cron
        // pass sends one job per occurrence across them all.
        if ('schedule' in definition) await boss.schedule(name, definition.schedule.cron, {}, { tz: definition.schedule.tz });
      }
    } catch (error) {
      await queue.stop(0);
      throw new AppError('STARTUP_FAILED', `job queue: ${describeError(error)}`, { cause: error });
    }
    return queue;
  }

  /** Enqueues a job. Returns its id, or null when a job with the same `id` exists. */
  async send<N extends JobName>(name: N, payload: JobPayload<N>, options: SendOptions = {}): Promise<string | null> {
    const parsed = parsePayload(name, payload);
    // Beside the payload, not in it: payload schemas strip it when the job starts.
    const data = options.traceparent ? { ...parsed, traceparent: options.traceparent } : parsed;
    return this.#boss.send(name, data, {
      db: options.em ? fromKysely(options.em.getKysely()) : undefined,
      startAfter: options.startAfter,
      id: options.id,
    });
  }

  /**
   * Enqueues many jobs of one name in one statement (e.g. a campaign's dials), each with
   * its own payload; `startAfter` applies to all. Returns their ids.
   */
  async sendMany<N extends JobName>(name: N, payloads: JobPayload<N>[], options: Omit<SendOptions, 'id'> = {}): Promise<string[]> {
    if (payloads.length === 0) return [];
    const jobs = payloads.map((payload) => ({ data: parsePayload(name, payload), startAfter: options.startAfter }));
    const ids = await this.#boss.insert(name, jobs, { db: options.em ? fromKysely(options.em.getKysely()) : undefined, returnId: true });
    return ids ?? [];
  }

  /**
   * Starts this process's workers for `name`: `concurrency` jobs at once, claimed in batches
   * (see claimBatchSize). The jobs of a batch run side by side, each with its own result;
   * the batch is settled, and its worker claims again, when the last of them has finished.
   */
  async work<N extends JobName>(name: N, handler: JobHandler<N>, options: WorkOptions = {}): Promise<void> {
    const concurrency = options.concurrency ?? 1;
    const batchSize = claimBatchSize(concurrency);
    await this.#boss.work<unknown>(
      name,
      {
        perJobResults: true,
        batchSize,
        localConcurrency: concurrency / batchSize,
        // A full batch says more jobs are waiting: claim again at once rather than wait for a
        // notification or the next poll (a backlog's jobs were announced before a worker was free).
        burstWhenBatchFull: true,
        pollingIntervalSeconds: options.pollingIntervalSeconds ?? 2,
        notifyPollingIntervalSeconds: options.pollingIntervalSeconds ?? 2,
      },
      async (jobs) => Promise.all(jobs.map((job) => this.#run(name, job, handler))),
    );
  }

  async #run<N extends JobName>(name: N, job: Job<unknown>, handler: JobHandler<N>): Promise<JobResult> {
    const logger = this.#logger.child({ jobId: job.id, job: name, retryCount: job.retryCount });
    const span = startSpan(`job ${name}`, {
      kind: SpanKind.CONSUMER,
      parent: contextFromTraceparent((job.data as { traceparent?: unknown } | null)?.traceparent),
      attributes: { 'messaging.system': 'pg-boss', 'messaging.destination.name': name, 'messaging.message.id': job.id, 'callwatch.job.retry_count': job.retryCount },
    });
    try {
      const payload = parsePayload(name, job.data);
      const lastAttempt = job.retryCount >= jobDefinitions[name].queue.retryLimit;
      await handler(payload, { jobId: job.id, retryCount: job.retryCount, lastAttempt, signal: job.signal, logger, span });
      endSpan(span);
      return { id: job.id, status: 'completed' };
    } catch (error) {
      const output = { code: isAppError(error) ? error.code : 'INTERNAL', message: describeError(error) };
      // The code only: an error's message may quote what the job worked on.
      endSpan(span, output.code);
      if (isAppError(error) && !error.retryable) {
        logger.error(output, 'job failed permanently');
        // 'deadletter' ends the job now, skipping the queue's remaining retries.
        return { id: job.id, status: 'deadletter', output };
      }
      logger.warn(output, 'job attempt failed; will retry if attempts remain');
      return { id: job.id, status: 'failed', output };
    }
  }

  /** A job as pg-boss stores it (state, output, retries), or null. For tests and the API. */
  async getJob(name: JobName, id: string): Promise<JobWithMetadata<unknown> | null> {
    const [job] = await this.#boss.findJobs<unknown>(name, { id });
    return job ?? null;
  }

  /**
   * Jobs per queue and state as pg-boss last counted them (its monitor pass refreshes the
   * counts every superviseIntervalSeconds, 5 s by default). One query over pg-boss's queue
   * table, shared by every call within `maxAgeMs` of it, so a /metrics scrape costs at most
   * one statement; only scrapes read it, never a call's path.
   */
  depths(maxAgeMs = 2000): Promise<QueueDepth[]> {
    const now = Date.now();
    if (this.#depths && now - this.#depths.at < maxAgeMs) return this.#depths.result;
    const result = this.#boss.getQueues([...jobNames]).then((queues) =>
      queues.flatMap((queue) => [
        { queue: queue.name, state: 'ready' as const, jobs: queue.readyCount },
        { queue: queue.name, state: 'deferred' as const, jobs: queue.deferredCount },
        { queue: queue.name, state: 'active' as const, jobs: queue.activeCount },
        { queue: queue.name, state: 'failed' as const, jobs: queue.failedCount },
      ]),
    );
    this.#depths = { at: now, result };
    // A failed read is not kept: the next scrape asks again.
    result.catch(() => {
      if (this.#depths?.result === result) this.#depths = undefined;
    });
    return result;
  }

  /**
   * The traceparent a job was sent with (SendOptions.traceparent), or undefined: lets a
   * later trigger of the same work join the trace of the one that sent the job.
   */
  async traceparentOf(name: JobName, id: string): Promise<string | undefined> {
    const traceparent = ((await this.getJob(name, id))?.data as { traceparent?: unknown } | undefined)?.traceparent;
    return typeof traceparent === 'string' ? traceparent : undefined;
  }

  /** True when pg-boss's database answers. */
  async isReachable(): Promise<boolean> {
    if (this.#stopped) return false;
    try {
      await this.#boss.getDb().executeSql('select 1');
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Stops taking jobs, waits up to `timeoutMs` for running handlers, then closes the pool.
   * Jobs still running after that are released back to the queue as failed attempts, so
   * another worker retries them.
   */
  async stop(timeoutMs = 10_000): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await this.#boss.stop({ graceful: true, close: true, timeout: Math.max(timeoutMs, 1000) });
  }
}

/** How many jobs of one queue are in one state (JobQueue.depths). */
export interface QueueDepth {
  queue: string;
  state: 'ready' | 'deferred' | 'active' | 'failed';
  jobs: number;
}

/** Jobs one claim takes at most. */
const maxClaimBatch = 4;

/**
 * How many jobs each pg-boss worker claims per fetch, for `concurrency` jobs at once: the
 * largest divisor of `concurrency` up to 4, so `concurrency / batchSize` workers run exactly
 * `concurrency` jobs. A NOTIFY for a new job wakes every idle worker of its queue and each of
 * them fetches, and a batch is claimed and settled in one statement each: with 16 workers of
 * one job a job cost ≈ 3 claims + 1 settle, with 4 workers of 4 ≈ 0.75 + 0.35 (bench:pipeline,
 * pg_stat_statements). The price: a worker claims again only when the slowest job of its batch
 * has finished, so jobs arriving one at a time run `concurrency / batchSize` at once (4, not
 * 16, by default) and only bursts fill the batches; larger batches would save more statements
 * and hold more jobs back.
 */
export function claimBatchSize(concurrency: number): number {
  for (let size = Math.min(maxClaimBatch, concurrency); size > 1; size--) if (concurrency % size === 0) return size;
  return 1;
}

/**
 * What a pg-boss `error` event is logged with: the message and code (a Postgres SQLSTATE
 * such as 57P01, or a Node code such as ECONNREFUSED), and the queue and worker when a
 * worker's fetch failed — never the job data, which may hold phone numbers.
 */
function queueErrorFields(error: unknown): Record<string, string> {
  const fields: Record<string, string> = { err: describeError(error) };
  const code = errorCode(error);
  if (code !== undefined) fields.code = code;
  const { queue, worker } = (typeof error === 'object' && error !== null ? error : {}) as { queue?: unknown; worker?: unknown };
  if (typeof queue === 'string') fields.queue = queue;
  if (typeof worker === 'string') fields.worker = worker;
  return fields;
}

function parsePayload<N extends JobName>(name: N, data: unknown): JobPayload<N> {
  const result = jobDefinitions[name].payload.safeParse(data);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.') || 'payload'}: ${issue.message}`);
    throw new AppError('JOB_PAYLOAD_INVALID', `invalid payload for job ${name}: ${problems.join('; ')}`, {
      retryable: false,
    });
  }
  return result.data as JobPayload<N>;
}
