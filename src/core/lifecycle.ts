import type { Logger } from './logger.ts';
import { describeError } from './errors.ts';

interface Resource {
  name: string;
  close: () => Promise<void> | void;
}

/**
 * Owns everything the process opened — database, queue, server, workers — and closes it in
 * reverse order of opening. Start-up registers each resource right after it opens, so a
 * failure halfway through start-up closes exactly what was opened and nothing else.
 */
export class Lifecycle {
  readonly #resources: Resource[] = [];
  readonly #logger: Logger;
  #closing: Promise<void> | undefined;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** Registers a resource to close at shutdown (last registered closes first). */
  add(name: string, close: Resource['close']): void {
    if (this.#closing) throw new Error(`cannot register ${name}: shutdown has begun`);
    this.#resources.push({ name, close });
  }

  get closing(): boolean {
    return this.#closing !== undefined;
  }

  /**
   * Closes every resource, newest first. A resource that fails to close is logged and the
   * rest still close. Calling it again returns the same promise.
   */
  close(): Promise<void> {
    this.#closing ??= this.#closeAll();
    return this.#closing;
  }

  async #closeAll(): Promise<void> {
    for (const resource of this.#resources.toReversed()) {
      try {
        await resource.close();
        this.#logger.debug({ resource: resource.name }, 'closed');
      } catch (error) {
        this.#logger.error({ resource: resource.name, err: describeError(error) }, 'failed to close');
      }
    }
    this.#resources.length = 0;
  }
}
