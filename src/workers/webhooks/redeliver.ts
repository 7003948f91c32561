import type { EntityManager } from '@mikro-orm/postgresql';
import { AppError } from '../../core/errors.ts';
import type { JobQueue } from '../../core/queue.ts';
import type { Row } from '../../entities/sql.ts';
import type { WebhookDelivery } from '../../entities/webhook-delivery.entity.ts';
import { resetDelivery } from '../../entities/webhook-delivery.repository.ts';

/**
 * Sends a delivery again now — delivered, failed or dead alike (a receiver that lost it,
 * or is back after an outage). Same body, same `webhook-id`, so a receiver that already
 * has it recognises it; attempts go on being appended; a fresh retry window starts.
 */
export async function redeliverWebhook(em: EntityManager, queue: JobQueue, businessId: string, deliveryId: string, retryForSec: number): Promise<Row<WebhookDelivery>> {
  return em.transactional(async (tx) => {
    const delivery = await resetDelivery(tx, businessId, deliveryId, new Date(Date.now() + retryForSec * 1000));
    if (!delivery) throw new AppError('NOT_FOUND', 'no such webhook delivery', { userMessage: 'No webhook delivery with that id.' });
    await queue.send('webhook.deliver', { deliveryId }, { em: tx });
    return delivery;
  });
}
