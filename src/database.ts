import { migrations } from '../migrations/index.ts';
import { migrateWith, openOrmOver, withMigrationLock, type Orm, type OrmOptions } from './core/db.ts';
import type { SecretBox } from './core/secret-box.ts';
import { entities } from './entities/index.ts';
import { resealWebhookSecrets } from './entities/webhook-secret.repository.ts';

/**
 * Callwatch's database: core/db.ts knows how to open an ORM and migrate; this module, part of
 * the composition root like app.ts, hands it Callwatch's entities and migrations (core/ may
 * import nothing above it — see architecture.rules.cjs).
 */

/**
 * Opens the ORM over Callwatch's entities on `url` and checks the connection right away
 * (MikroORM 7 connects lazily, which would turn a wrong URL into a failure at the first request).
 */
export function openOrm(url: string, options: OrmOptions = {}): Promise<Orm> {
  return openOrmOver(url, { entities, migrations }, options);
}

/**
 * Applies Callwatch's pending migrations and returns their names (one transaction under an
 * advisory lock: see migrateWith). With `secrets` (the configured APP_SECRET's box), the same
 * transaction then seals stored secrets no migration can encrypt without the key: plaintext
 * rows, and rows sealed with APP_SECRET_PREVIOUS (Migration20261204000200WebhookSecretEncryption).
 */
export function migrate(orm: Orm, secrets?: SecretBox): Promise<string[]> {
  return migrateWith(orm, secrets && ((em) => resealWebhookSecrets(em, secrets)));
}

/** Seals stored secrets with the configured key, as `migrate` does, for a start that applies no migrations. */
export function resealSecrets(orm: Orm, secrets: SecretBox): Promise<number> {
  return withMigrationLock(orm, (em) => resealWebhookSecrets(em, secrets));
}
