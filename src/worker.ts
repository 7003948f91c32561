import { jobNames, type JobName } from './core/queue.ts';
import type { Services } from './core/services.ts';
import { jobHandlers, type JobHandlers } from './workers/index.ts';

/**
 * Starts this process's job workers. They stop with the queue (JobQueue.stop), which lets
 * running jobs finish or releases them for another worker.
 */
export async function startWorkers(services: Services, handlers: JobHandlers = jobHandlers): Promise<JobName[]> {
  const started: JobName[] = [];
  for (const name of jobNames) {
    const factory = handlers[name];
    if (!factory) continue;
    // Each name is paired with its own factory; TypeScript cannot follow that through a loop.
    await services.queue.work(name, (factory as HandlerFactory)(services), {
      concurrency: services.config.workerConcurrency,
      pollingIntervalSeconds: services.config.workerPollIntervalMs / 1000,
    });
    started.push(name);
  }
  services.logger.info({ queues: started }, 'workers started');
  return started;
}

type HandlerFactory = (services: Services) => Parameters<Services['queue']['work']>[1];
