import { describeError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { Metrics } from '../core/metrics.ts';
import { isConnectionError } from '../entities/postgres-errors.ts';
import type { CallWrite } from './call-outcome.ts';
import { removeSpilledCallWrite, spillCallWrite } from './spilled-call-writes.ts';

export interface PendingCallWritesOptions {
  /**
   * A call's write (persistCallWrite): its end — the call's row, its lead, its pipeline job,
   * in one transaction — or the row of a call answered while Postgres was unreachable.
   */
  write: (write: CallWrite) => Promise<void>;
  logger: Logger;
  metrics: Metrics;
  /** DATA_DIR: where writes still pending at shutdown are spilled, one file per call. */
  dataDir: string;
  /** First wait before a retry; doubled each failure up to `maxDelayMs`, with ±20 % jitter. Default 500 ms. */
  baseDelayMs?: number;
  /** Longest wait between retries. Default 30 s. */
  maxDelayMs?: number;
}

interface Pending {
  write: CallWrite;
  /** It came from a spill file, removed once the write is done. */
  spilled: boolean;
}

/**
 * End-of-call writes that could not reach Postgres, kept until they can. A call's end is
 * written at once as ever; when that fails because the database is unreachable (a
 * connection error: isConnectionError), the write is kept here and retried with backoff
 * and jitter until Postgres is back — never dropped. A write Postgres refused for what it
 * is (a constraint, bad data) is logged and dropped: no retry would change the answer.
 *
 * Invariants: writes are retried oldest first, and a call's writes in the order they
 * came (a write for a call with one pending queues behind it); a write is repeated only
 * when its outcome is unknown, which is harmless: the first end of a call wins (endCall),
 * the lead is changed only by that first end, and the jobs it enqueues have fixed ids.
 * At shutdown (`close`), what is still pending after one last attempt is spilled to
 * DATA_DIR/pending-call-writes and replayed at the next start (`replay`).
 */
export class PendingCallWrites {
  readonly #options: PendingCallWritesOptions;
  readonly #pending: Pending[] = [];
  #failures = 0;
  #timer: NodeJS.Timeout | undefined;
  /** The retry pass running now, if any. */
  #running: Promise<void> | undefined;
  #closed = false;

  constructor(options: PendingCallWritesOptions) {
    this.#options = options;
  }

  /** Writes still waiting for Postgres. */
  get size(): number {
    return this.#pending.length;
  }

  /**
   * Writes a call's end now, or keeps it for a retry when Postgres is unreachable. Resolves
   * once it is written or kept (never rejects): a call's end does not wait for the database.
   */
  async submit(write: CallWrite, spilled = false): Promise<void> {
    const entry = { write, spilled };
    // Behind a pending write of the same call, to keep the call's order.
    if (this.#closed || this.#pending.some((pending) => pending.write.callId === write.callId)) return this.#keep(entry);
    try {
      await this.#options.write(write);
      if (spilled) await this.#written(entry);
    } catch (error) {
      if (!isConnectionError(error)) return this.#refused(entry, error);
      this.#options.logger.warn({ callId: write.callId, err: describeError(error) }, 'cannot write the call: the database is unreachable; retrying until it is back');
      await this.#keep(entry);
    }
  }

  /**
   * Shutdown: stops retrying, tries what is pending once more (for at most `finalAttemptMs`),
   * then spills what is left to DATA_DIR, one file per call.
   */
  async close(finalAttemptMs: number): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    if (this.#pending.length > 0) {
      // A write still under way when the time is up is spilled too: written twice, harmlessly.
      const lastAttempt = (async () => {
        await this.#running;
        await this.#retryPass();
      })();
      let deadline: NodeJS.Timeout | undefined;
      await Promise.race([lastAttempt, new Promise((resolve) => (deadline = setTimeout(resolve, finalAttemptMs)))]);
      clearTimeout(deadline);
    }
    for (const { write } of this.#pending.splice(0)) await this.#spill(write);
  }

  async #spill(write: CallWrite): Promise<void> {
    try {
      await spillCallWrite(this.#options.dataDir, write);
      this.#options.metrics.increment('call_writes_spilled_total');
      this.#options.logger.warn({ callId: write.callId }, 'the call could not be written before shutdown: spilled to DATA_DIR, written at the next start');
    } catch (error) {
      this.#options.logger.error({ callId: write.callId, err: describeError(error) }, 'cannot spill the call\'s pending write: it is lost');
    }
  }

  /** Keeps `entry` for the next retry; after close, spills it at once. */
  async #keep(entry: Pending): Promise<void> {
    if (this.#closed) return this.#spill(entry.write);
    this.#pending.push(entry);
    this.#schedule();
  }

  #schedule(): void {
    if (this.#timer || this.#running) return;
    const delay = Math.min(this.#options.maxDelayMs ?? 30_000, (this.#options.baseDelayMs ?? 500) * 2 ** this.#failures);
    const jittered = delay * (0.8 + Math.random() * 0.4);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#running = this.#retryPass().finally(() => {
        this.#running = undefined;
        if (this.#pending.length > 0 && !this.#closed) this.#schedule();
      });
    }, jittered);
  }

  /** Writes the pending entries oldest first; stops at the first that still cannot reach Postgres. */
  async #retryPass(): Promise<void> {
    while (this.#pending.length > 0) {
      const entry = this.#pending[0]!;
      this.#options.metrics.increment('call_writes_retried_total');
      try {
        await this.#options.write(entry.write);
      } catch (error) {
        if (isConnectionError(error)) {
          this.#failures += 1;
          return;
        }
        this.#pending.shift();
        this.#refused(entry, error);
        continue;
      }
      this.#pending.shift();
      this.#failures = 0;
      this.#options.logger.info({ callId: entry.write.callId }, 'the call was written after the database came back');
      await this.#written(entry);
    }
  }

  async #written(entry: Pending): Promise<void> {
    if (!entry.spilled) return;
    this.#options.metrics.increment('call_writes_replayed_total');
    await removeSpilledCallWrite(this.#options.dataDir, entry.write.callId).catch((error: unknown) =>
      this.#options.logger.error({ callId: entry.write.callId, err: describeError(error) }, 'cannot remove the replayed spill file: it will be replayed again (harmlessly)'),
    );
  }

  #refused(entry: Pending, error: unknown): void {
    this.#options.metrics.increment('call_writes_refused_total');
    // A spill file of it stays in DATA_DIR, for whoever investigates.
    this.#options.logger.error({ callId: entry.write.callId, spillFileKept: entry.spilled, err: describeError(error) }, 'failed to persist the call: the database refused the write');
  }
}
