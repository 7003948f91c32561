import { Migration } from '@mikro-orm/migrations';

/** The audit log: every GraphQL mutation and supervisor action, with key, operation, target ids, outcome and time. */
export class Migration20261204000500AuditLog extends Migration {
  override name = 'Migration20261204000500AuditLog';

  override up(): void {
    this.addSql(
      `create table "audit_log" ("id" uuid not null, "business_id" uuid null, "api_key_id" uuid null, "actor" varchar(32) not null, "role" text not null, ` +
        `"operation" varchar(64) not null, "targets" jsonb not null, "outcome" varchar(64) not null, "created_at" timestamptz not null, primary key ("id"))`,
    );
    this.addSql(`alter table "audit_log" add constraint "audit_log_role_check" check ("role" in ('admin', 'supervisor', 'viewer', 'platform', 'anonymous'))`);
    this.addSql(`create index "audit_log_business_created_at_index" on "audit_log" ("business_id", "created_at")`);
    this.addSql(`alter table "audit_log" add constraint "audit_log_business_id_foreign" foreign key ("business_id") references "businesses" ("id") on delete cascade`);
  }

  override down(): void {
    this.addSql(`drop table "audit_log"`);
  }
}
