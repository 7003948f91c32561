import type { Config } from './config.ts';
import type { Orm } from './db.ts';
import type { EventBus } from './events.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';
import type { JobQueue } from './queue.ts';

/** What the roles of one Callwatch process share. Built once by app.ts. */
export interface Services {
  config: Config;
  logger: Logger;
  orm: Orm;
  queue: JobQueue;
  bus: EventBus;
  metrics: Metrics;
}
