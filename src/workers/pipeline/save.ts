import type { EntityManager } from '@mikro-orm/postgresql';
import type { Config } from '../../core/config.ts';
import type { JobQueue } from '../../core/queue.ts';
import type { PipelineStatus, PipelineStepState } from '../../entities/call.entity.ts';
import { insertDelivery } from '../../entities/webhook-delivery.repository.ts';
import { callCompletedPayload } from './payload.ts';
import { recordStep, type PipelineCall } from './state.ts';

export interface SaveResult {
  status: PipelineStatus;
  step: PipelineStepState;
  /** The delivery this run created; null when it existed already or no URL is configured. */
  deliveryId: string | null;
  /** False when a reprocess made this run's results moot. */
  recorded: boolean;
}

/**
 * Step 5: in one transaction — the `call.completed` delivery (payload frozen now, so every
 * retry sends the same body under the same `webhook-id`), its `webhook.deliver` job, the
 * lead's city and service when it had none, and the call's final pipeline status. A re-run
 * finds the delivery there and enqueues nothing: one webhook per call and revision.
 * `traceparent`: the trace the delivery's job joins (the pipeline's).
 */
export async function save(em: EntityManager, queue: JobQueue, config: Config, call: PipelineCall, traceparent?: string): Promise<SaveResult> {
  const failed = Object.values(call.pipelineSteps).some((state) => state?.status === 'failed');
  const status: PipelineStatus = failed ? 'failed' : 'completed';
  const url = call.direction === 'inbound' ? call.settings.inboundWebhookUrl : call.settings.outboundWebhookUrl;
  const now = new Date();
  const step: PipelineStepState = url
    ? { status: 'done', at: now.toISOString() }
    : { status: 'skipped', at: now.toISOString(), reason: `no ${call.direction} webhook URL is configured` };

  const fillLead = call.leadId && (call.extractedCity || call.extractedService) ? { leadId: call.leadId, city: call.extractedCity, service: call.extractedService } : undefined;
  return em.transactional(async (tx) => {
    const recorded = await recordStep(tx, call, 'deliver', step, { pipelineStatus: status }, { fillLead });
    if (!recorded || !url) return { status, step, deliveryId: null, recorded };
    const finished = { ...call, pipelineSteps: { ...call.pipelineSteps, deliver: step } };
    const deliveryId = await insertDelivery(tx, {
      businessId: call.businessId,
      callId: call.id,
      revision: call.pipelineRevision,
      url,
      payload: callCompletedPayload(finished, now),
      retryUntil: new Date(now.getTime() + config.webhooks.retryForSec * 1000),
    });
    if (deliveryId) await queue.send('webhook.deliver', { deliveryId }, { em: tx, id: deliveryId, traceparent });
    return { status, step, deliveryId, recorded };
  });
}
