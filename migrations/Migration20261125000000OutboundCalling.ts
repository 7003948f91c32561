import { Migration } from '@mikro-orm/migrations';

/**
 * Outbound calling: each business's calling hours and retry/concurrency policy, campaigns,
 * the fields a job's progress shows, whether a call was answered by a machine, and the
 * dialer's global pace (one row: the next free send slot, shared by every worker).
 */
export class Migration20261125000000OutboundCalling extends Migration {
  override name = 'Migration20261125000000OutboundCalling';

  override up(): void {
    // A frozen copy of DEFAULT_CALLING_HOURS (now in entities/business-settings.entity.ts): a migration must not
    // change meaning when the code it would import does.
    const callingHours = JSON.stringify({
      '0': [{ open: '09:00', close: '20:00' }],
      '1': [{ open: '09:00', close: '20:00' }],
      '2': [{ open: '09:00', close: '20:00' }],
      '3': [{ open: '09:00', close: '20:00' }],
      '4': [{ open: '09:00', close: '20:00' }],
      '5': [{ open: '09:00', close: '13:00' }],
    });
    this.addSql(
      `alter table "business_settings" add "calling_hours" jsonb not null default '${callingHours}', add "call_on_holidays" boolean not null default false, ` +
        `add "outbound_max_attempts" int not null default 3, add "outbound_retry_spacing_sec" int not null default 3600, ` +
        `add "outbound_max_concurrent" int not null default 2, add "outbound_greeting_template" text not null default 'שלום {firstName}, מדברים מ{businessName}.'`,
    );
    // New rows get the hours from the entity, like the other JSON columns.
    this.addSql(`alter table "business_settings" alter column "calling_hours" drop default`);

    this.addSql(
      `create table "campaigns" ("id" uuid not null, "business_id" uuid not null, "name" varchar(255) not null, "purpose" text not null, "instructions" text null, ` +
        `"window_start" timestamptz not null, "window_end" timestamptz null, "status" text not null default 'active', "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"))`,
    );
    this.addSql(`create index "campaigns_business_created_at_index" on "campaigns" ("business_id", "created_at")`);
    this.addSql(`alter table "campaigns" add constraint "campaigns_status_check" check ("status" in ('active', 'canceled'))`);
    this.addSql(`alter table "campaigns" add constraint "campaigns_business_id_foreign" foreign key ("business_id") references "businesses" ("id") on delete cascade`);

    this.addSql(`alter table "outbound_call_jobs" add "campaign_id" uuid null, add "last_outcome" text null, add "not_after" timestamptz null`);
    this.addSql(`alter table "outbound_call_jobs" add constraint "outbound_call_jobs_campaign_id_foreign" foreign key ("campaign_id") references "campaigns" ("id") on delete cascade`);
    this.addSql(`create index "outbound_call_jobs_campaign_id_index" on "outbound_call_jobs" ("campaign_id")`);
    this.addSql(`alter table "outbound_call_jobs" add constraint "outbound_call_jobs_last_outcome_check" check ("last_outcome" in ('answered', 'no-answer', 'busy', 'voicemail', 'failed'))`);

    this.addSql(`alter table "calls" add "answered_by" varchar(32) null`);

    this.addSql(`create table "dialer_pace" ("id" int not null, "next_slot_at" timestamptz not null, primary key ("id"))`);
    this.addSql(`insert into "dialer_pace" ("id", "next_slot_at") values (1, now())`);
  }

  override down(): void {
    this.addSql(`drop table "dialer_pace"`);
    this.addSql(`alter table "calls" drop column "answered_by"`);
    this.addSql(`alter table "outbound_call_jobs" drop column "campaign_id", drop column "last_outcome", drop column "not_after"`);
    this.addSql(`drop table "campaigns"`);
    this.addSql(
      `alter table "business_settings" drop column "calling_hours", drop column "call_on_holidays", drop column "outbound_max_attempts", ` +
        `drop column "outbound_retry_spacing_sec", drop column "outbound_max_concurrent", drop column "outbound_greeting_template"`,
    );
  }
}
