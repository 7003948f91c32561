import { Migration } from '@mikro-orm/migrations';

/** The in-call agent: each call's timeline (tools, reprompts, hand-overs, failures) and why it ended. */
export class Migration20261124000000CallTimeline extends Migration {
  override name = 'Migration20261124000000CallTimeline';

  override up(): void {
    this.addSql(`alter table "calls" add "timeline" jsonb not null default '[]', add "end_reason" text null`);
    // New rows get the timeline from the entity, like the other JSON columns.
    this.addSql(`alter table "calls" alter column "timeline" drop default`);
  }

  override down(): void {
    this.addSql(`alter table "calls" drop column "timeline", drop column "end_reason"`);
  }
}
