import type { Redis } from 'ioredis';
import { describeError } from './errors.ts';

/** What went wrong: a PUBLISH that did not reach Redis, a (UN)SUBSCRIBE, a message that is not JSON. */
export type RedisBusFailure = 'publish' | 'subscribe' | 'message';

/**
 * An EventTarget over Redis pub/sub for graphql-yoga's `createPubSub`: dispatching an event
 * publishes its detail as JSON on the channel named by its type; listening subscribes to
 * that channel. It is built to outlive Redis going away, because publishers call
 * `bus.publish` and go on (the audio path among them):
 *
 * - No Redis command's rejection ever escapes: each failure goes to `onFailure`.
 * - While the publish connection is not ready an event is dropped at once, never queued —
 *   live events are worth something now or not at all, and a queue would grow for as long
 *   as the outage lasts.
 * - The channels someone listens to are kept here and subscribed again on every `ready` of
 *   the subscribe connection, including channels first listened to while Redis was down.
 *
 * Replaces @graphql-yoga/redis-event-target, whose fire-and-forget PUBLISH and SUBSCRIBE
 * turned a Redis outage into unhandled rejections that end the process.
 */
export class RedisEventTarget implements EventTarget {
  readonly #publishClient: Redis;
  readonly #subscribeClient: Redis;
  readonly #onFailure: (failure: RedisBusFailure, reason: string) => void;
  readonly #listeners = new Map<string, Set<EventListenerOrEventListenerObject>>();

  constructor(options: { publishClient: Redis; subscribeClient: Redis; onFailure: (failure: RedisBusFailure, reason: string) => void }) {
    this.#publishClient = options.publishClient;
    this.#subscribeClient = options.subscribeClient;
    this.#onFailure = options.onFailure;
    this.#subscribeClient.on('message', (channel: string, message: string) => this.#deliver(channel, message));
    // A new connection has no subscriptions (ioredis's own autoResubscribe is off: it only
    // knows the channels whose SUBSCRIBE succeeded, and does not catch its own rejection).
    this.#subscribeClient.on('ready', () => {
      if (this.#listeners.size > 0) this.#command(this.#subscribeClient.subscribe(...this.#listeners.keys()));
    });
  }

  /** Whether both connections are up, so what is published now reaches every instance. */
  get connected(): boolean {
    return this.#publishClient.status === 'ready' && this.#subscribeClient.status === 'ready';
  }

  dispatchEvent(event: Event): boolean {
    if (this.#publishClient.status !== 'ready') {
      this.#onFailure('publish', `Redis connection is ${this.#publishClient.status}`);
      return true;
    }
    const { detail } = event as CustomEvent;
    this.#publishClient.publish(event.type, detail === undefined ? '' : JSON.stringify(detail)).catch((error: unknown) => this.#onFailure('publish', describeError(error)));
    return true;
  }

  addEventListener(type: string, callback: EventListenerOrEventListenerObject | null): void {
    if (callback === null) return;
    let listeners = this.#listeners.get(type);
    if (!listeners) {
      listeners = new Set();
      this.#listeners.set(type, listeners);
      // When not ready, the next `ready` subscribes it.
      if (this.#subscribeClient.status === 'ready') this.#command(this.#subscribeClient.subscribe(type));
    }
    listeners.add(callback);
  }

  removeEventListener(type: string, callback: EventListenerOrEventListenerObject | null): void {
    const listeners = this.#listeners.get(type);
    if (!listeners || callback === null) return;
    listeners.delete(callback);
    if (listeners.size > 0) return;
    this.#listeners.delete(type);
    // When not ready, the connection's subscriptions are gone anyway and the next `ready` leaves it out.
    if (this.#subscribeClient.status === 'ready') this.#command(this.#subscribeClient.unsubscribe(type));
  }

  /** Subscribers on this instance to `type` (its channel), whether or not Redis has confirmed the SUBSCRIBE yet. */
  listenerCount(type: string): number {
    return this.#listeners.get(type)?.size ?? 0;
  }

  #command(reply: Promise<unknown>): void {
    reply.catch((error: unknown) => this.#onFailure('subscribe', describeError(error)));
  }

  #deliver(channel: string, message: string): void {
    const listeners = this.#listeners.get(channel);
    if (!listeners) return;
    let detail: unknown;
    try {
      detail = message === '' ? null : JSON.parse(message);
    } catch (error) {
      // Someone else publishing on our channels; thrown here it would end the process.
      this.#onFailure('message', describeError(error));
      return;
    }
    const event = new CustomEvent(channel, { detail });
    for (const listener of listeners) {
      if (typeof listener === 'function') listener(event);
      else listener.handleEvent(event);
    }
  }
}
