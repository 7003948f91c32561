import { Migration } from '@mikro-orm/migrations';

/**
 * Webhook signing secrets are encrypted at rest (src/core/secret-box.ts). A migration does
 * not know APP_SECRET, so the encryption of rows written before this one runs right after
 * the migrations, in the same transaction and under the same lock (`migrate` in
 * src/core/db.ts, with the configured key): no plaintext row outlives the start-up that
 * applies this. Here the column becomes nullable — a business gets its secret sealed when
 * it first needs one (rotation or first delivery), since inserts cannot seal without the key.
 */
export class Migration20261204000200WebhookSecretEncryption extends Migration {
  override name = 'Migration20261204000200WebhookSecretEncryption';

  override up(): void {
    this.addSql(`alter table "business_settings" alter column "webhook_secret" drop not null`);
  }

  /** Sealed values cannot be decrypted here (no key): going back needs every secret rotated after the downgrade. */
  override down(): void {
    this.addSql(`update "business_settings" set "webhook_secret" = 'whsec_' || encode(decode(md5(random()::text) || md5(random()::text), 'hex'), 'base64') where "webhook_secret" is null`);
    this.addSql(`alter table "business_settings" alter column "webhook_secret" set not null`);
  }
}
