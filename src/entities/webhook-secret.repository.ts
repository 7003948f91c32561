import type { EntityManager } from '@mikro-orm/postgresql';
import { AppError } from '../core/errors.ts';
import { isSealed, type SecretBox } from '../core/secret-box.ts';
import { generateWebhookSecret, type BusinessSettings } from './business-settings.entity.ts';
import { sql, type Row } from './sql.ts';

/*
 * Webhook signing secrets at rest: sealed with APP_SECRET's key (SecretBox), bound to the
 * business id, opened only to sign a delivery. The plaintext leaves Callwatch once, in
 * rotateWebhookSecret's answer.
 */

/**
 * Replaces the business's secret with a new one and returns it — its only copy. Receivers
 * verifying with the old secret fail from now on: rotate, then update the receiver.
 */
export async function rotateWebhookSecret(em: EntityManager, businessId: string, box: SecretBox): Promise<{ settings: Row<BusinessSettings>; secret: string }> {
  const secret = generateWebhookSecret();
  const settings = await sql(em)
    .updateTable('BusinessSettings')
    .set({ webhookSecret: box.seal(secret, businessId) })
    .where('business', '=', businessId)
    .returningAll()
    .executeTakeFirst();
  if (!settings) throw new AppError('NOT_FOUND', 'business has no settings');
  return { settings, secret };
}

/**
 * The plaintext secret to sign the business's webhooks with, given the stored value. A
 * business that never had one gets one now (first writer wins when two deliveries race).
 * A value that is not sealed was written by a version before encryption at rest, during a
 * rolling deploy: it is still the receiver's secret, and the next start-up seals it.
 */
export async function webhookSigningSecret(em: EntityManager, businessId: string, stored: string | null, box: SecretBox): Promise<string> {
  if (stored !== null) return isSealed(stored) ? box.open(stored, businessId) : stored;
  const secret = generateWebhookSecret();
  const issued = await sql(em)
    .updateTable('BusinessSettings')
    .set({ webhookSecret: box.seal(secret, businessId) })
    .where('business', '=', businessId)
    .where('webhookSecret', 'is', null)
    .executeTakeFirst();
  if (issued.numUpdatedRows > 0n) return secret;
  const row = await sql(em).selectFrom('BusinessSettings').select('webhookSecret').where('business', '=', businessId).executeTakeFirst();
  if (!row?.webhookSecret) throw new AppError('NOT_FOUND', 'business has no settings');
  return webhookSigningSecret(em, businessId, row.webhookSecret, box);
}

/** Rows re-sealed per statement. */
const resealBatch = 500;

/**
 * Seals every stored secret that is not sealed with the current key: plaintext rows from
 * before encryption at rest, and rows sealed with APP_SECRET_PREVIOUS during a rotation.
 * Idempotent; run at start-up under the migration lock. A row no configured key opens
 * fails the whole run with an error naming APP_SECRET, before anything signs with it.
 * Returns how many rows it re-sealed.
 */
export async function resealWebhookSecrets(em: EntityManager, box: SecretBox): Promise<number> {
  const prefix = `v1:${box.keyId}:`;
  const rows: { business: string; stored: string }[] = await em.execute(
    `select "business_id" as business, "webhook_secret" as stored from "business_settings" where "webhook_secret" is not null and left("webhook_secret", ?) <> ? for update`,
    [prefix.length, prefix],
  );
  const resealed = rows.map(({ business, stored }) => {
    const plaintext = isSealed(stored) ? box.open(stored, business) : stored;
    return { business, sealed: box.seal(plaintext, business) };
  });
  for (let start = 0; start < resealed.length; start += resealBatch) {
    const batch = resealed.slice(start, start + resealBatch);
    const values = batch.map(() => '(?::uuid, ?)').join(', ');
    await em.execute(
      `update "business_settings" as s set "webhook_secret" = v.sealed from (values ${values}) as v(business_id, sealed) where s."business_id" = v.business_id`,
      batch.flatMap((row) => [row.business, row.sealed]),
    );
  }
  return resealed.length;
}
