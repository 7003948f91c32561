import { performance } from 'node:perf_hooks';

/**
 * An append-only list of what a stand-in saw, which tests can read at any time or wait on.
 * Waiting never leaks a timer: each wait's timer is cleared when it resolves or times out,
 * and `close()` rejects the waits still open.
 */
export class EventLog<T> {
  readonly items: T[] = [];
  /** When each item was logged (`performance.now()`), for benchmarks that time a stand-in's side. */
  readonly times: number[] = [];
  #waiters = new Set<{ predicate: (item: T) => boolean; resolve: (item: T) => void; reject: (error: Error) => void; timer: NodeJS.Timeout }>();
  #name: string;
  #closedReason: string | undefined;

  /** `name` appears in time-out messages, e.g. 'OpenAI client event'. */
  constructor(name: string) {
    this.#name = name;
  }

  /** Records an item and wakes the waits it satisfies. */
  push(item: T): void {
    this.items.push(item);
    this.times.push(performance.now());
    for (const waiter of this.#waiters) {
      if (!waiter.predicate(item)) continue;
      this.#waiters.delete(waiter);
      clearTimeout(waiter.timer);
      waiter.resolve(item);
    }
  }

  /**
   * The first item, already logged or still to come, that matches; rejects after
   * `timeoutMs`. Pass `{ after: n }` to ignore the first n items (e.g. `items.length`
   * before an action, to wait for what that action causes).
   */
  waitFor<S extends T>(predicate: ((item: T) => item is S) | ((item: T) => boolean), timeoutMs = 5_000, options: { after?: number } = {}): Promise<S> {
    const found = this.items.slice(options.after ?? 0).find(predicate);
    if (found !== undefined) return Promise.resolve(found as S);
    if (this.#closedReason !== undefined) return Promise.reject(new Error(`${this.#name} log closed: ${this.#closedReason}`));
    return new Promise<S>((resolve, reject) => {
      const waiter = {
        predicate,
        resolve: resolve as (item: T) => void,
        reject,
        timer: setTimeout(() => {
          this.#waiters.delete(waiter);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${this.#name}`));
        }, timeoutMs),
      };
      this.#waiters.add(waiter);
    });
  }

  /** Rejects every open wait (the source closed); a later wait finds only what was logged. */
  close(reason: string): void {
    this.#closedReason ??= reason;
    for (const waiter of this.#waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(new Error(`${this.#name} log closed: ${reason}`));
    }
    this.#waiters.clear();
  }
}
