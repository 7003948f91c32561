import type { JobHandler, JobName } from '../core/queue.ts';
import type { Services } from '../core/services.ts';
import { dialOutboundCall } from './outbound/dial.ts';
import { hangUpOutboundCall } from './outbound/hang-up.ts';
import { processCall } from './pipeline/process-call.ts';
import { reconcileRecording } from './pipeline/reconcile-recording.ts';
import { applyRetention } from './privacy/retention.job.ts';
import { deliverWebhook } from './webhooks/deliver.ts';

/** Builds a job's handler from the shared services. */
export type HandlerFactory<N extends JobName> = (services: Services) => JobHandler<N>;

export type JobHandlers = { [N in JobName]?: HandlerFactory<N> };

/** The handlers this build runs: every job name has one. */
export const jobHandlers: JobHandlers = {
  'call.process': processCall,
  'recording.reconcile': reconcileRecording,
  'webhook.deliver': deliverWebhook,
  'outbound.dial': dialOutboundCall,
  'outbound.hangup': hangUpOutboundCall,
  'privacy.retention': applyRetention,
};
