import { Migration } from '@mikro-orm/migrations';

/**
 * The initial schema: every table of DESIGN.md's data model. Generated once from the
 * entities (`orm.schema.getCreateSchemaSQL()`), then extended by hand with what entity
 * metadata cannot express: the btree_gist extension and the exclusion constraint that
 * makes overlapping booked appointments of one business impossible.
 */
export class Migration20261121000000Initial extends Migration {
  override name = 'Migration20261121000000Initial';

  override up(): void {
    this.addSql(`create extension if not exists btree_gist`);
    this.addSql(`create table "businesses" ("id" uuid not null, "name" varchar(255) not null, "timezone" varchar(255) not null default 'Asia/Jerusalem', "locale" varchar(255) not null default 'he-IL', "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"))`);
    this.addSql(`create table "api_keys" ("id" uuid not null, "business_id" uuid not null, "name" varchar(255) not null, "role" text not null, "prefix" varchar(16) not null, "key_hash" varchar(64) not null, "created_at" timestamptz not null, "last_used_at" timestamptz null, "revoked_at" timestamptz null, primary key ("id"))`);
    this.addSql(`create index "api_keys_business_id_index" on "api_keys" ("business_id")`);
    this.addSql(`alter table "api_keys" add constraint "api_keys_key_hash_unique" unique ("key_hash")`);
    this.addSql(`alter table "api_keys" add constraint "api_keys_role_check" check ("role" in ('admin', 'supervisor', 'viewer'))`);
    this.addSql(`create table "business_settings" ("business_id" uuid not null, "agent_instructions" text not null default '', "greeting_template" text not null default 'שלום {firstName}, {ברוך הבא|ברוכה הבאה} ל{businessName}. במה אפשר לעזור?', "voice" varchar(255) not null default 'alloy', "language" varchar(8) not null default 'he', "silence_timeout_sec" int not null default 8, "silence_reprompts" int not null default 2, "max_call_duration_sec" int not null default 900, "record_calls" boolean not null default true, "inbound_webhook_url" text null, "outbound_webhook_url" text null, "webhook_secret" varchar(255) not null, "extraction_schema" jsonb not null, "transfer_number" varchar(16) null, "working_hours" jsonb not null, "appointment_slot_minutes" int not null default 30, "updated_at" timestamptz not null, primary key ("business_id"))`);
    this.addSql(`create table "leads" ("id" uuid not null, "business_id" uuid not null, "phone" varchar(16) not null, "full_name" varchar(255) null, "first_name" varchar(255) null, "gender" text null, "city" varchar(255) null, "service_category" varchar(255) null, "status" text not null default 'new', "notes" text null, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"))`);
    this.addSql(`create index "leads_business_created_at_index" on "leads" ("business_id", "created_at")`);
    this.addSql(`alter table "leads" add constraint "leads_business_phone_unique" unique ("business_id", "phone")`);
    this.addSql(`alter table "leads" add constraint "leads_gender_check" check ("gender" in ('male', 'female'))`);
    this.addSql(`alter table "leads" add constraint "leads_status_check" check ("status" in ('new', 'contacted', 'qualified', 'booked', 'won', 'lost'))`);
    this.addSql(`create table "outbound_call_jobs" ("id" uuid not null, "business_id" uuid not null, "lead_id" uuid not null, "purpose" text not null, "instructions" text null, "scheduled_at" timestamptz not null, "attempts" int not null default 0, "status" text not null default 'queued', "last_error" text null, "last_call_sid" varchar(34) null, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"))`);
    this.addSql(`create index "outbound_call_jobs_lead_id_index" on "outbound_call_jobs" ("lead_id")`);
    this.addSql(`create index "outbound_call_jobs_business_status_index" on "outbound_call_jobs" ("business_id", "status", "scheduled_at")`);
    this.addSql(`alter table "outbound_call_jobs" add constraint "outbound_call_jobs_status_check" check ("status" in ('queued', 'dialing', 'in-progress', 'completed', 'no-answer', 'busy', 'failed', 'canceled'))`);
    this.addSql(`create table "calls" ("id" uuid not null, "business_id" uuid not null, "lead_id" uuid null, "call_sid" varchar(34) not null, "direction" text not null, "from_number" varchar(32) not null, "to_number" varchar(32) not null, "status" text not null default 'initiated', "started_at" timestamptz null, "ended_at" timestamptz null, "duration_sec" int null, "recording_sid" varchar(34) null, "recording_url" text null, "transcript_turns" jsonb not null, "final_transcript" text null, "summary" text null, "extracted_city" varchar(255) null, "extracted_service" varchar(255) null, "extracted" jsonb null, "pipeline_status" text not null default 'pending', "pipeline_steps" jsonb not null, "outbound_job_id" uuid null, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"))`);
    this.addSql(`create index "calls_lead_id_index" on "calls" ("lead_id")`);
    this.addSql(`alter table "calls" add constraint "calls_call_sid_unique" unique ("call_sid")`);
    this.addSql(`create index "calls_outbound_job_id_index" on "calls" ("outbound_job_id")`);
    this.addSql(`create index "calls_business_created_at_index" on "calls" ("business_id", "created_at")`);
    this.addSql(`alter table "calls" add constraint "calls_direction_check" check ("direction" in ('inbound', 'outbound'))`);
    this.addSql(`alter table "calls" add constraint "calls_status_check" check ("status" in ('queued', 'initiated', 'ringing', 'in-progress', 'completed', 'busy', 'no-answer', 'failed', 'canceled'))`);
    this.addSql(`alter table "calls" add constraint "calls_pipeline_status_check" check ("pipeline_status" in ('pending', 'running', 'completed', 'failed'))`);
    this.addSql(`create table "appointments" ("id" uuid not null, "business_id" uuid not null, "lead_id" uuid null, "call_id" uuid null, "starts_at" timestamptz not null, "ends_at" timestamptz not null, "status" text not null default 'booked', "notes" text null, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"))`);
    this.addSql(`create index "appointments_lead_id_index" on "appointments" ("lead_id")`);
    this.addSql(`create index "appointments_call_id_index" on "appointments" ("call_id")`);
    this.addSql(`create index "appointments_business_starts_at_index" on "appointments" ("business_id", "starts_at")`);
    this.addSql(`alter table "appointments" add constraint "appointments_status_check" check ("status" in ('booked', 'canceled', 'completed', 'no-show'))`);
    this.addSql(`create table "phone_numbers" ("e164" varchar(16) not null, "business_id" uuid not null, "label" varchar(255) null, "created_at" timestamptz not null, primary key ("e164"))`);
    this.addSql(`create index "phone_numbers_business_id_index" on "phone_numbers" ("business_id")`);
    this.addSql(`create table "webhook_deliveries" ("id" uuid not null, "business_id" uuid not null, "call_id" uuid not null, "event" varchar(255) not null, "url" text not null, "payload" jsonb not null, "webhook_id" varchar(255) not null, "attempts" jsonb not null, "status" text not null default 'pending', "delivered_at" timestamptz null, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"))`);
    this.addSql(`create index "webhook_deliveries_business_id_index" on "webhook_deliveries" ("business_id")`);
    this.addSql(`alter table "webhook_deliveries" add constraint "webhook_deliveries_webhook_id_unique" unique ("webhook_id")`);
    this.addSql(`alter table "webhook_deliveries" add constraint "webhook_deliveries_call_event_unique" unique ("call_id", "event")`);
    this.addSql(`alter table "webhook_deliveries" add constraint "webhook_deliveries_status_check" check ("status" in ('pending', 'delivered', 'failed', 'dead'))`);
    this.addSql(`alter table "api_keys" add constraint "api_keys_business_id_foreign" foreign key ("business_id") references "businesses" ("id") on delete cascade`);
    this.addSql(`alter table "business_settings" add constraint "business_settings_business_id_foreign" foreign key ("business_id") references "businesses" ("id") on update cascade on delete cascade`);
    this.addSql(`alter table "leads" add constraint "leads_business_id_foreign" foreign key ("business_id") references "businesses" ("id") on delete cascade`);
    this.addSql(`alter table "outbound_call_jobs" add constraint "outbound_call_jobs_business_id_foreign" foreign key ("business_id") references "businesses" ("id") on delete cascade`);
    this.addSql(`alter table "outbound_call_jobs" add constraint "outbound_call_jobs_lead_id_foreign" foreign key ("lead_id") references "leads" ("id") on delete cascade`);
    this.addSql(`alter table "calls" add constraint "calls_business_id_foreign" foreign key ("business_id") references "businesses" ("id") on delete cascade`);
    this.addSql(`alter table "calls" add constraint "calls_lead_id_foreign" foreign key ("lead_id") references "leads" ("id") on delete set null`);
    this.addSql(`alter table "calls" add constraint "calls_outbound_job_id_foreign" foreign key ("outbound_job_id") references "outbound_call_jobs" ("id") on delete set null`);
    this.addSql(`alter table "appointments" add constraint "appointments_business_id_foreign" foreign key ("business_id") references "businesses" ("id") on delete cascade`);
    this.addSql(`alter table "appointments" add constraint "appointments_lead_id_foreign" foreign key ("lead_id") references "leads" ("id") on delete set null`);
    this.addSql(`alter table "appointments" add constraint "appointments_call_id_foreign" foreign key ("call_id") references "calls" ("id") on delete set null`);
    this.addSql(`alter table "phone_numbers" add constraint "phone_numbers_business_id_foreign" foreign key ("business_id") references "businesses" ("id") on delete cascade`);
    this.addSql(`alter table "webhook_deliveries" add constraint "webhook_deliveries_business_id_foreign" foreign key ("business_id") references "businesses" ("id") on delete cascade`);
    this.addSql(`alter table "webhook_deliveries" add constraint "webhook_deliveries_call_id_foreign" foreign key ("call_id") references "calls" ("id") on delete cascade`);

    // Booked appointments of one business never overlap ('[)': back-to-back is fine).
    this.addSql(`alter table "appointments" add constraint "appointments_ends_after_start" check ("ends_at" > "starts_at")`);
    this.addSql(`alter table "appointments" add constraint "appointments_no_overlap" exclude using gist ("business_id" with =, tstzrange("starts_at", "ends_at", '[)') with &&) where ("status" = 'booked')`);
  }
}
