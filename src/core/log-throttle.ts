/**
 * Lets a repeated warning through at most once per interval and counts the ones it held
 * back, so a dependency that fails hundreds of times a second (Redis while it is down)
 * writes one line per interval that says how many it stands for.
 */
export class LogThrottle {
  readonly #intervalMs: number;
  readonly #now: () => number;
  #lastLoggedAt = Number.NEGATIVE_INFINITY;
  #suppressed = 0;

  /** `now` is a monotonic clock in milliseconds (tests pass their own). */
  constructor(intervalMs: number, now: () => number = () => performance.now()) {
    this.#intervalMs = intervalMs;
    this.#now = now;
  }

  /**
   * Call once per occurrence. Returns how many occurrences were held back since the last
   * one let through when this one should be logged, and undefined when it should not.
   */
  take(): { suppressed: number } | undefined {
    const now = this.#now();
    if (now - this.#lastLoggedAt < this.#intervalMs) {
      this.#suppressed += 1;
      return undefined;
    }
    const suppressed = this.#suppressed;
    this.#lastLoggedAt = now;
    this.#suppressed = 0;
    return { suppressed };
  }
}
