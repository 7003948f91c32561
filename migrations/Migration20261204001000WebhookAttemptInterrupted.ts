import { Migration } from '@mikro-orm/migrations';

/**
 * When the delivery's attempt in flight started: set just before a webhook is POSTed and
 * cleared when its answer is recorded, so an attempt cut off by a killed worker is found
 * (and recorded as interrupted) when the job resumes.
 */
export class Migration20261204001000WebhookAttemptInterrupted extends Migration {
  override name = 'Migration20261204001000WebhookAttemptInterrupted';

  override up(): void {
    this.addSql(`alter table "webhook_deliveries" add column "attempt_started_at" timestamptz null`);
  }

  override down(): void {
    this.addSql(`alter table "webhook_deliveries" drop column "attempt_started_at"`);
  }
}
