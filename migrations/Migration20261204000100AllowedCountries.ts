import { Migration } from '@mikro-orm/migrations';

/**
 * The countries a business's outbound calls and transfers may reach (toll fraud). Empty for
 * every existing business: its own country, as before in practice.
 */
export class Migration20261204000100AllowedCountries extends Migration {
  override name = 'Migration20261204000100AllowedCountries';

  override up(): void {
    this.addSql(`alter table "business_settings" add "allowed_countries" text[] not null default '{}'`);
  }

  override down(): void {
    this.addSql(`alter table "business_settings" drop column "allowed_countries"`);
  }
}
