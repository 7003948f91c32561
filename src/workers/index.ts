import type { JobHandler, JobName } from '../core/queue.ts';
import type { Services } from '../core/services.ts';

/** Builds a job's handler from the shared services. */
export type HandlerFactory<N extends JobName> = (services: Services) => JobHandler<N>;

export type JobHandlers = { [N in JobName]?: HandlerFactory<N> };

/**
 * The handlers this build runs. A job name without a handler here stays queued until a
 * worker that has one starts: the post-call pipeline and the outbound dialer register
 * theirs as they land (issues 5 and 9).
 */
export const jobHandlers: JobHandlers = {};
