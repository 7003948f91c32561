import type { Plugin } from 'graphql-yoga';
import { Repeater } from 'graphql-yoga';
import { describeError } from '../core/errors.ts';
import type { Services } from '../core/services.ts';
import { revokedApiKeyIds } from '../entities/api-key.repository.ts';
import type { Auth, GraphQLContext } from '../schema/context.ts';

/**
 * How often the keys of open sockets and streams are looked up again, in case a revocation
 * never arrived over the bus (Redis was down when it was published). One statement per
 * interval per instance, and none while nothing is open; never on the call path.
 */
export const liveKeyRecheckMs = 30_000;

/** How long a revocation heard on the bus is remembered, for a socket still authenticating when it came. */
const rememberRevokedMs = 60_000;

/** Something live that a key holds open: a graphql-ws socket, or one SSE stream. */
type End = () => void;

/**
 * Live access ends when access ends: every graphql-ws socket and SSE subscription stream is
 * held here under its API key, and revoking the key (`api-key:revoked` on the bus, so every
 * instance hears it) ends them — sockets are closed with 4403, streams complete.
 *
 * A socket whose key is being checked when the revocation is heard cannot be found yet; the
 * revocation is remembered for a minute, and `hold` ends at once what is held for a key
 * revoked meanwhile. When the bus drops the event (a Redis outage), the periodic re-check
 * (`liveKeyRecheckMs`) finds the key revoked in the database and ends the rest.
 */
export class LiveAccess {
  readonly #services: Services;
  readonly #held = new Map<string, Set<End>>();
  readonly #revoked = new Map<string, number>();
  readonly #events: AsyncIterableIterator<{ apiKeyId: string }>;
  readonly #listening: Promise<void>;
  readonly #timer: NodeJS.Timeout;
  #rechecking = false;

  constructor(services: Services) {
    this.#services = services;
    const events = services.bus.subscribe('api-key:revoked')[Symbol.asyncIterator]() as AsyncIterableIterator<{ apiKeyId: string }>;
    this.#events = events;
    this.#listening = (async () => {
      for (let next = await events.next(); !next.done; next = await events.next()) this.revoked(next.value.apiKeyId);
    })();
    this.#timer = setInterval(() => void this.recheck(), liveKeyRecheckMs);
    this.#timer.unref();
  }

  /**
   * Holds something live open under `auth`'s key until the returned release is called;
   * `end` is called (once) when the key is revoked. The platform key is never revoked.
   */
  hold(auth: Auth | null, end: End): () => void {
    if (auth?.kind !== 'business') return () => {};
    const { apiKeyId } = auth;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const set = this.#held.get(apiKeyId);
      set?.delete(once);
      if (set?.size === 0) this.#held.delete(apiKeyId);
    };
    const once = () => {
      release();
      this.#services.metrics.increment('subscriptions_revoked_closed_total');
      end();
    };
    if (this.#revoked.has(apiKeyId)) {
      once();
      return release;
    }
    let set = this.#held.get(apiKeyId);
    if (!set) this.#held.set(apiKeyId, (set = new Set()));
    set.add(once);
    return release;
  }

  /** Ends everything held under `apiKeyId` (heard on the bus, or found by the re-check). */
  revoked(apiKeyId: string): void {
    const now = Date.now();
    for (const [id, at] of this.#revoked) if (now - at > rememberRevokedMs) this.#revoked.delete(id);
    this.#revoked.set(apiKeyId, now);
    for (const end of [...(this.#held.get(apiKeyId) ?? [])]) end();
  }

  /** Looks up the keys of what is open now and ends what a revoked key holds. */
  async recheck(): Promise<void> {
    if (this.#held.size === 0 || this.#rechecking) return;
    this.#rechecking = true;
    try {
      const revoked = await revokedApiKeyIds(this.#services.orm.em.fork(), [...this.#held.keys()]);
      for (const apiKeyId of revoked) this.revoked(apiKeyId);
    } catch (error) {
      this.#services.logger.warn({ err: describeError(error) }, 'live access: re-checking open keys failed');
    } finally {
      this.#rechecking = false;
    }
  }

  /** Stops listening; what is held is closed by its owners (the server's shutdown). */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#events.return?.();
    await this.#listening;
  }
}

/**
 * Ends an SSE subscription stream when its key is revoked: the stream completes, and yoga
 * ends the response. Over graphql-ws the socket is held instead (ws.ts).
 */
export function liveAccessPlugin(live: LiveAccess): Plugin<GraphQLContext> {
  return {
    onSubscribe({ args }) {
      // graphql-ws sockets are held as a whole; they carry a transport.
      if (args.contextValue.transport) return;
      const auth = args.contextValue.auth;
      return {
        onSubscribeResult({ result, setResult }) {
          if (!(Symbol.asyncIterator in result)) return;
          const source = result;
          setResult(
            new Repeater(async (push, stop) => {
              const release = live.hold(auth, () => stop());
              const iterator = source[Symbol.asyncIterator]();
              void stop.then(() => iterator.return?.());
              try {
                for (;;) {
                  const next = await Promise.race([iterator.next(), stop.then(() => ({ done: true, value: undefined }) as const)]);
                  if (next.done) break;
                  await push(next.value);
                }
              } finally {
                release();
                stop();
              }
            }),
          );
        },
      };
    },
  };
}
