import { Migration } from '@mikro-orm/migrations';

/** A business's voicemail message, left on answering machines that pick up its outbound calls. */
export class Migration20261203000000VoicemailMessage extends Migration {
  override name = 'Migration20261203000000VoicemailMessage';

  override up(): void {
    this.addSql(`alter table "business_settings" add "voicemail_message" text null`);
  }

  override down(): void {
    this.addSql(`alter table "business_settings" drop column "voicemail_message"`);
  }
}
