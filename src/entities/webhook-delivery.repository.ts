import type { EntityManager } from '@mikro-orm/postgresql';
import { sql as raw } from 'kysely';
import { AppError } from '../core/errors.ts';
import type { JobQueue } from '../core/queue.ts';
import type { WebhookAttempt, WebhookDelivery, WebhookDeliveryStatus } from './webhook-delivery.entity.ts';
import { sql, type Row } from './sql.ts';

export const callCompletedEvent = 'call.completed';

export interface NewDelivery {
  businessId: string;
  callId: string;
  revision: number;
  url: string;
  payload: Record<string, unknown>;
  retryUntil: Date;
}

/**
 * Writes the delivery of a call's event for one revision, unless it exists (a re-run of
 * the pipeline). Returns the new row's id, or null when it already existed.
 */
export async function insertDelivery(em: EntityManager, delivery: NewDelivery): Promise<string | null> {
  const row = await sql(em)
    .insertInto('WebhookDelivery')
    .values({
      business: delivery.businessId,
      call: delivery.callId,
      event: callCompletedEvent,
      revision: delivery.revision,
      url: delivery.url,
      payload: delivery.payload,
      retryUntil: delivery.retryUntil,
      nextAttemptAt: new Date(),
    })
    .onConflict((conflict) => conflict.columns(['call', 'event', 'revision']).doNothing())
    .returning('id')
    .executeTakeFirst();
  return row?.id ?? null;
}

/** A delivery with what its handler needs to sign it (the stored, sealed secret); null when gone. */
export async function loadDelivery(em: EntityManager, id: string): Promise<(Row<WebhookDelivery> & { secret: string | null }) | null> {
  const row = await sql(em)
    .selectFrom('WebhookDelivery')
    .innerJoin('BusinessSettings', 'BusinessSettings.business', 'WebhookDelivery.business')
    .selectAll('WebhookDelivery')
    .select('BusinessSettings.webhookSecret as secret')
    .where('WebhookDelivery.id', '=', id)
    .executeTakeFirst();
  return (row as (Row<WebhookDelivery> & { secret: string | null }) | undefined) ?? null;
}

/** What an attempt cut off by its worker's death is recorded with. */
export function interruptedAttempt(startedAt: Date): WebhookAttempt {
  return { at: startedAt.toISOString(), statusCode: null, durationMs: 0, error: 'interrupted: the worker stopped before the answer was recorded', interrupted: true };
}

/**
 * Marks an attempt as under way, just before its POST, in one statement; an attempt an
 * earlier run marked and never recorded (`cutOff`: its worker died) is appended first.
 * Only if no other run recorded an attempt since `attemptsBefore` was read. Returns the
 * number of attempts before this one, or null when another run got there first.
 */
export async function startAttempt(em: EntityManager, id: string, attemptsBefore: number, startedAt: Date, cutOff: WebhookAttempt | null): Promise<number | null> {
  const row = await sql(em)
    .updateTable('WebhookDelivery')
    .set({
      ...(cutOff ? { attempts: raw`"attempts" || ${JSON.stringify([cutOff])}::jsonb` } : {}),
      attemptStartedAt: startedAt,
    })
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .where(raw<number>`jsonb_array_length("attempts")`, '=', attemptsBefore)
    .returning(raw<number>`jsonb_array_length("attempts")`.as('attempts'))
    .executeTakeFirst();
  return row ? Number(row.attempts) : null;
}

export interface AttemptRecord {
  attempt: WebhookAttempt;
  status: WebhookDeliveryStatus;
  nextAttemptAt: Date | null;
}

/**
 * Appends an attempt and the status it led to, and clears the in-flight mark — only if no other run recorded an attempt
 * since this one read `attemptsBefore` (two runs of one job race only after a lapsed
 * claim). Returns false when the other run won.
 */
export async function recordAttempt(em: EntityManager, id: string, attemptsBefore: number, record: AttemptRecord): Promise<boolean> {
  const result = await sql(em)
    .updateTable('WebhookDelivery')
    .set({
      attempts: raw`"attempts" || ${JSON.stringify([record.attempt])}::jsonb`,
      status: record.status,
      nextAttemptAt: record.nextAttemptAt,
      attemptStartedAt: null,
      ...(record.status === 'delivered' ? { deliveredAt: new Date(record.attempt.at) } : {}),
    })
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .where(raw<number>`jsonb_array_length("attempts")`, '=', attemptsBefore)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Makes a delivery pending again, due now, with a fresh retry window. Null when not this business's. */
export async function resetDelivery(em: EntityManager, businessId: string, id: string, retryUntil: Date): Promise<Row<WebhookDelivery> | null> {
  const row = await sql(em)
    .updateTable('WebhookDelivery')
    .set({ status: 'pending', nextAttemptAt: new Date(), retryUntil })
    .where('id', '=', id)
    .where('business', '=', businessId)
    .returningAll()
    .executeTakeFirst();
  return (row as Row<WebhookDelivery> | undefined) ?? null;
}

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
