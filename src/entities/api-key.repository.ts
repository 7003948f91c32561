import type { EntityManager } from '@mikro-orm/postgresql';
import { generateApiKey, type ApiKeyRole } from '../core/auth.ts';
import { ApiKey } from './api-key.entity.ts';

/**
 * Issues a new API key for a business. The returned `key` is the only copy of the secret:
 * show it once; only its hash is stored.
 */
export async function issueApiKey(
  em: EntityManager,
  input: { businessId: string; role: ApiKeyRole; name: string },
): Promise<{ apiKey: ApiKey; key: string }> {
  const generated = generateApiKey();
  const apiKey = em.create(ApiKey, {
    business: input.businessId,
    name: input.name,
    role: input.role,
    prefix: generated.prefix,
    keyHash: generated.hash,
  });
  await em.flush();
  return { apiKey, key: generated.key };
}
