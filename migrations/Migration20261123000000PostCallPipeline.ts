import { Migration } from '@mikro-orm/migrations';

/**
 * The post-call pipeline: a place for the downloaded recording between the download and
 * transcription steps, a revision per call so `reprocessCall` sends a webhook of its own,
 * and the retry window and next attempt of each webhook delivery.
 */
export class Migration20261123000000PostCallPipeline extends Migration {
  override name = 'Migration20261123000000PostCallPipeline';

  override up(): void {
    this.addSql(`create table "call_recordings" ("call_id" uuid not null, "content_type" varchar(255) not null, "audio" bytea not null, "downloaded_at" timestamptz not null, primary key ("call_id"))`);
    this.addSql(`alter table "call_recordings" add constraint "call_recordings_call_id_foreign" foreign key ("call_id") references "calls" ("id") on update cascade on delete cascade`);

    this.addSql(`alter table "calls" add "pipeline_revision" int not null default 0`);

    this.addSql(`alter table "webhook_deliveries" add "revision" int not null default 0, add "retry_until" timestamptz null, add "next_attempt_at" timestamptz null`);
    // Deliveries written before this migration get the same 24 h window new ones get.
    this.addSql(`update "webhook_deliveries" set "retry_until" = "created_at" + interval '24 hours'`);
    this.addSql(`alter table "webhook_deliveries" alter column "retry_until" set not null`);
    this.addSql(`alter table "webhook_deliveries" drop constraint "webhook_deliveries_call_event_unique"`);
    this.addSql(`alter table "webhook_deliveries" add constraint "webhook_deliveries_call_event_revision_unique" unique ("call_id", "event", "revision")`);
  }

  override down(): void {
    this.addSql(`alter table "webhook_deliveries" drop constraint "webhook_deliveries_call_event_revision_unique"`);
    this.addSql(`delete from "webhook_deliveries" where "revision" > 0`);
    this.addSql(`alter table "webhook_deliveries" add constraint "webhook_deliveries_call_event_unique" unique ("call_id", "event")`);
    this.addSql(`alter table "webhook_deliveries" drop column "revision", drop column "retry_until", drop column "next_attempt_at"`);
    this.addSql(`alter table "calls" drop column "pipeline_revision"`);
    this.addSql(`drop table if exists "call_recordings"`);
  }
}
