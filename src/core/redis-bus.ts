import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import { createPubSub } from '@graphql-yoga/subscription';
import { Redis } from 'ioredis';
import { AppError, describeError } from './errors.ts';
import type { BusEvents, EventBus } from './events.ts';
import type { Logger } from './logger.ts';

export interface RedisBus {
  bus: EventBus;
  close: () => Promise<void>;
}

/**
 * The event bus over Redis pub/sub (REDIS_URL), so several API instances and workers share
 * events: a subscriber on one instance sees a call held by another, and supervisor commands
 * reach the instance holding the call. Events are JSON (the bus's contract). Start-up waits
 * for both connections and fails with a clear error when Redis does not answer.
 */
export async function openRedisBus(url: string, logger: Logger): Promise<RedisBus> {
  const options = { lazyConnect: true, maxRetriesPerRequest: 3, connectTimeout: 5000 };
  const publishClient = new Redis(url, options);
  const subscribeClient = new Redis(url, options);
  const log = logger.child({ component: 'redis-bus' });
  for (const client of [publishClient, subscribeClient]) client.on('error', (error: unknown) => log.warn({ err: describeError(error) }, 'redis connection error'));
  try {
    await Promise.all([publishClient.connect(), subscribeClient.connect()]);
  } catch (error) {
    publishClient.disconnect();
    subscribeClient.disconnect();
    throw new AppError('STARTUP_FAILED', `event bus: cannot reach Redis at REDIS_URL (${describeError(error)})`, { cause: error });
  }
  const bus = createPubSub<BusEvents>({ eventTarget: createRedisEventTarget({ publishClient, subscribeClient }) });
  return {
    bus,
    async close() {
      await Promise.allSettled([publishClient.quit(), subscribeClient.quit()]);
    },
  };
}
