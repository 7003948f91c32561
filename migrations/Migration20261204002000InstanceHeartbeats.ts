import { Migration } from '@mikro-orm/migrations';

/**
 * One row per running API instance, beaten every few seconds with the calls it holds, so
 * the calls of an instance that died (SIGKILL, a lost host) are found and closed.
 */
export class Migration20261204002000InstanceHeartbeats extends Migration {
  override name = 'Migration20261204002000InstanceHeartbeats';

  override up(): void {
    this.addSql(
      `create table "instance_heartbeats" ("id" uuid not null, "started_at" timestamptz not null, "beat_at" timestamptz not null, "call_ids" text[] not null default '{}', constraint "instance_heartbeats_pkey" primary key ("id"))`,
    );
  }

  override down(): void {
    this.addSql(`drop table "instance_heartbeats"`);
  }
}
