import type { JobHandler, JobName } from '../core/queue.ts';
import type { Services } from '../core/services.ts';
import { processCall } from './pipeline/process-call.ts';
import { deliverWebhook } from './webhooks/deliver.ts';

/** Builds a job's handler from the shared services. */
export type HandlerFactory<N extends JobName> = (services: Services) => JobHandler<N>;

export type JobHandlers = { [N in JobName]?: HandlerFactory<N> };

/**
 * The handlers this build runs. A job name without a handler here stays queued until a
 * worker that has one starts: the outbound dialer registers its handler when it lands
 * (issue 9).
 */
export const jobHandlers: JobHandlers = {
  'call.process': processCall,
  'webhook.deliver': deliverWebhook,
};
