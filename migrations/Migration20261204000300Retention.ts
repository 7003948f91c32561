import { Migration } from '@mikro-orm/migrations';

/**
 * Data kept only as long as allowed (Privacy Protection Law, Amendment 13): each business's
 * retention periods, and marks of what the retention job or a lead's erasure removed.
 */
export class Migration20261204000300Retention extends Migration {
  override name = 'Migration20261204000300Retention';

  override up(): void {
    this.addSql(`alter table "business_settings" add "recording_retention_days" int not null default 30, add "transcript_retention_days" int not null default 365`);
    this.addSql(`alter table "calls" add "recording_deleted_at" timestamptz null, add "content_deleted_at" timestamptz null`);
    this.addSql(`alter table "leads" add "erased_at" timestamptz null`);
  }

  override down(): void {
    this.addSql(`alter table "leads" drop column "erased_at"`);
    this.addSql(`alter table "calls" drop column "recording_deleted_at", drop column "content_deleted_at"`);
    this.addSql(`alter table "business_settings" drop column "recording_retention_days", drop column "transcript_retention_days"`);
  }
}
