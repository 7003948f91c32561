import { Migration } from '@mikro-orm/migrations';

/** The disclosure every call opens with: on by default, worded per business (null: the default wording). */
export class Migration20261204000400CallDisclosure extends Migration {
  override name = 'Migration20261204000400CallDisclosure';

  override up(): void {
    this.addSql(`alter table "business_settings" add "call_disclosure_enabled" boolean not null default true, add "call_disclosure" text null`);
  }

  override down(): void {
    this.addSql(`alter table "business_settings" drop column "call_disclosure_enabled", drop column "call_disclosure"`);
  }
}
