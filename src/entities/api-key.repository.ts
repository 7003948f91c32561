import type { EntityManager } from '@mikro-orm/postgresql';
import { generateApiKey, hashApiKey, type ApiKeyRole } from '../core/auth.ts';
import { AppError } from '../core/errors.ts';
import type { ApiKey } from './api-key.entity.ts';
import { sql, type Row } from './sql.ts';

/**
 * Issues a new API key for a business. The returned `key` is the only copy of the secret:
 * show it once; only its hash is stored.
 */
export async function issueApiKey(
  em: EntityManager,
  input: { businessId: string; role: ApiKeyRole; name: string },
): Promise<{ apiKey: Row<ApiKey>; key: string }> {
  const generated = generateApiKey();
  const apiKey = await sql(em)
    .insertInto('ApiKey')
    .values({ business: input.businessId, name: input.name, role: input.role, prefix: generated.prefix, keyHash: generated.hash })
    .returningAll()
    .executeTakeFirstOrThrow();
  return { apiKey, key: generated.key };
}

/** What a valid API key stands for. */
export interface ApiKeyIdentity {
  apiKeyId: string;
  businessId: string;
  role: ApiKeyRole;
  /** The key's public prefix: names it in the audit log without revealing it. */
  prefix: string;
}

/** How stale `lastUsedAt` may get: refreshing it on every request would write on every read. */
const lastUsedResolutionMs = 60_000;

/**
 * The business and role of an unrevoked API key, or null. One statement: it also refreshes
 * `lastUsedAt` when that is more than a minute old (a data-modifying CTE), so
 * authentication costs one round trip and writes at most once a minute per key.
 */
export async function authenticateApiKey(em: EntityManager, key: string): Promise<ApiKeyIdentity | null> {
  const keyHash = hashApiKey(key);
  const now = new Date();
  const row = await sql(em)
    .with('touched', (db) =>
      db
        .updateTable('ApiKey')
        .set({ lastUsedAt: now })
        .where('keyHash', '=', keyHash)
        .where('revokedAt', 'is', null)
        .where((eb) => eb.or([eb('lastUsedAt', 'is', null), eb('lastUsedAt', '<', new Date(now.getTime() - lastUsedResolutionMs))]))
        .returning('id'),
    )
    .selectFrom('ApiKey')
    .select(['id', 'business', 'role', 'prefix'])
    .where('keyHash', '=', keyHash)
    .where('revokedAt', 'is', null)
    .executeTakeFirst();
  return row ? { apiKeyId: row.id, businessId: row.business, role: row.role, prefix: row.prefix } : null;
}

/** A business's API keys, newest first (revoked ones included, marked). */
export async function listApiKeys(em: EntityManager, businessId: string): Promise<Row<ApiKey>[]> {
  return sql(em).selectFrom('ApiKey').selectAll().where('business', '=', businessId).orderBy('createdAt', 'desc').execute();
}

/**
 * Revokes a key of `businessId`. Revoking twice keeps the first time. A key of another
 * business is NOT_FOUND, like a key that does not exist.
 */
export async function revokeApiKey(em: EntityManager, businessId: string, apiKeyId: string): Promise<Row<ApiKey>> {
  const row = await sql(em)
    .updateTable('ApiKey')
    .set((eb) => ({ revokedAt: eb.fn.coalesce('revokedAt', eb.val(new Date())) }))
    .where('id', '=', apiKeyId)
    .where('business', '=', businessId)
    .returningAll()
    .executeTakeFirst();
  if (!row) throw new AppError('NOT_FOUND', 'no such API key', { userMessage: 'No API key with that id.' });
  return row;
}

/** Which of `apiKeyIds` are revoked now (the re-check of keys holding sockets open). */
export async function revokedApiKeyIds(em: EntityManager, apiKeyIds: string[]): Promise<string[]> {
  if (apiKeyIds.length === 0) return [];
  const rows = await sql(em).selectFrom('ApiKey').select('id').where('id', 'in', apiKeyIds).where('revokedAt', 'is not', null).execute();
  return rows.map((row) => row.id);
}
