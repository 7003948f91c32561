import type { EntityManager } from '../core/db.ts';
import { clearContent } from './call-record.ts';
import { sql } from './sql.ts';

export interface ContentClearing {
  /**
   * Also the extracted city and service category. Retention keeps them (coarse, and the
   * stats' top cities count them); erasing a person clears them too.
   */
  extractedCategories?: boolean;
}

/**
 * Clears what was said and learnt in these calls — realtime and final transcript, summary,
 * extracted fields, timeline — and deletes their webhook deliveries (whose payloads carry
 * the same text), in one transaction. The calls' anonymous facts stay: times, duration,
 * direction, status, end reason, so the call log and callStats still count them. Idempotent.
 */
export async function clearCallContent(em: EntityManager, callIds: readonly string[], options: ContentClearing = {}): Promise<void> {
  if (callIds.length === 0) return;
  await em.transactional(async (tx) => {
    await clearContent(tx, callIds, options);
    await sql(tx).deleteFrom('WebhookDelivery').where('call', 'in', callIds).execute();
  });
}
