import { createPubSub, type PubSubEventTarget } from '@graphql-yoga/subscription';
import { Redis, type RedisOptions } from 'ioredis';
import { AppError, describeError } from './errors.ts';
import { busTopic, type BusEvents, type EventBus } from './events.ts';
import type { Logger } from './logger.ts';
import { LogThrottle } from './log-throttle.ts';
import type { Metrics } from './metrics.ts';
import { RedisEventTarget, type RedisBusFailure } from './redis-event-target.ts';

export interface RedisBus {
  bus: EventBus;
  close: () => Promise<void>;
}

/** A Redis outage fails hundreds of times a second; one warning per kind per this long. */
const logIntervalMs = 10_000;

const connectionOptions: RedisOptions = {
  lazyConnect: true,
  connectTimeout: 5000,
  // How long a closing socket may wait for the server's goodbye. ioredis also arms this
  // timer when it closes a socket that is already gone (Redis down), so it is kept short.
  disconnectTimeout: 200,
  // While the connection is down a command fails at once instead of waiting in a queue that
  // grows for as long as the outage lasts (live events are dropped and counted, see
  // RedisEventTarget); one written just before the connection broke fails on the first
  // reconnect attempt instead of being replayed late.
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  autoResendUnfulfilledCommands: false,
  // RedisEventTarget subscribes again on every `ready`, and catches the reply.
  autoResubscribe: false,
  // Reconnect for as long as it takes: 100 ms, 200 ms, 400 ms, … at most 2 s apart.
  retryStrategy: (attempt: number) => Math.min(100 * 2 ** Math.min(attempt - 1, 5), 2000),
};

/**
 * The event bus over Redis pub/sub (REDIS_URL), so several API instances and workers share
 * events: a subscriber on one instance sees a call held by another, and supervisor commands
 * reach the instance holding the call. Events are JSON (the bus's contract). Start-up waits
 * for both connections and fails with a clear error when Redis does not answer.
 *
 * Once started, Redis going away is never fatal: events published meanwhile are dropped
 * (`bus_publish_failures_total`), the clients reconnect until Redis is back, and every
 * subscription is made again. Warnings are logged at most once per 10 s per kind, with the
 * number held back; the reconnection is logged with the number of events lost.
 */
export async function openRedisBus(url: string, logger: Logger, metrics: Metrics): Promise<RedisBus> {
  const log = logger.child({ component: 'redis-bus' });
  const publishClient = new Redis(url, connectionOptions);
  const subscribeClient = new Redis(url, connectionOptions);
  let lostSinceReady = 0;

  const failureThrottles = new Map<RedisBusFailure, LogThrottle>();
  const onFailure = (failure: RedisBusFailure, reason: string) => {
    if (failure === 'publish') {
      metrics.increment('bus_publish_failures_total');
      lostSinceReady += 1;
    }
    let throttle = failureThrottles.get(failure);
    if (!throttle) failureThrottles.set(failure, (throttle = new LogThrottle(logIntervalMs)));
    const due = throttle.take();
    if (due) log.warn({ failure, reason, suppressed: due.suppressed }, 'event bus command failed');
  };

  for (const [name, client] of [['publish', publishClient], ['subscribe', subscribeClient]] as const) {
    const throttle = new LogThrottle(logIntervalMs);
    let lostConnection = false;
    client.on('reconnecting', () => {
      if (lostConnection) return;
      lostConnection = true;
      log.warn({ client: name }, 'redis connection lost, reconnecting');
    });
    // Every failed reconnect attempt is an error (every ~0.1–2 s per client while Redis is down).
    client.on('error', (error: unknown) => {
      const due = throttle.take();
      if (due) log.warn({ client: name, err: describeError(error), suppressed: due.suppressed }, 'redis connection error');
    });
    client.on('ready', () => {
      if (!lostConnection) return;
      lostConnection = false;
      log.info({ client: name, ...(name === 'publish' ? { eventsDropped: lostSinceReady } : {}) }, 'redis connection restored');
      if (name === 'publish') lostSinceReady = 0;
    });
  }

  try {
    await Promise.all([publishClient.connect(), subscribeClient.connect()]);
  } catch (error) {
    publishClient.disconnect();
    subscribeClient.disconnect();
    throw new AppError('STARTUP_FAILED', `event bus: cannot reach Redis at REDIS_URL (${describeError(error)})`, { cause: error });
  }
  const target = new RedisEventTarget({ publishClient, subscribeClient, onFailure });
  const bus: EventBus = Object.assign(createPubSub<BusEvents>({ eventTarget: target as PubSubEventTarget<BusEvents> }), {
    available: () => target.connected,
    listenerCount: (routingKey: keyof BusEvents, id?: string) => target.listenerCount(busTopic(routingKey, id)),
  });
  return {
    bus,
    async close() {
      // QUIT on a connection that is up; otherwise stop reconnecting at once.
      await Promise.all([publishClient, subscribeClient].map((client) => (client.status === 'ready' ? client.quit().then(() => {}, () => client.disconnect()) : client.disconnect())));
    },
  };
}
