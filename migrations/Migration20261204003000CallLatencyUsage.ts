import { Migration } from '@mikro-orm/migrations';

/**
 * A call's latency (greeting, turns) and usage (tokens, audio, estimated cost), written
 * with the call's end; null for the calls before them and for calls no session ended.
 */
export class Migration20261204003000CallLatencyUsage extends Migration {
  override name = 'Migration20261204003000CallLatencyUsage';

  override up(): void {
    this.addSql(`alter table "calls" add column "latency" jsonb null, add column "usage" jsonb null`);
  }

  override down(): void {
    this.addSql(`alter table "calls" drop column "latency", drop column "usage"`);
  }
}
