import type { EntityManager } from '@mikro-orm/postgresql';
import { AppError } from '../core/errors.ts';
import type { BusinessSettings } from './business-settings.entity.ts';
import type { ApiKey } from './api-key.entity.ts';
import { issueApiKey } from './api-key.repository.ts';
import type { Business } from './business.entity.ts';
import { assertDialable, businessDialingCountries } from './dialing-policy.repository.ts';
import { isUniqueViolation } from './postgres-errors.ts';
import { hasChanges, sql, type Row } from './sql.ts';

export interface CreateBusinessInput {
  name: string;
  timezone?: string | null;
  locale?: string | null;
  /** E.164 numbers the business answers on; each may belong to one business only. */
  phoneNumbers: string[];
}

export interface CreatedBusiness {
  business: Row<Business>;
  apiKey: Row<ApiKey>;
  /** The first admin key's secret — its only copy. */
  key: string;
}

/**
 * Creates a business with default settings, its phone numbers and a first admin API key,
 * in one transaction. A number another business answers on is a CONFLICT.
 */
export async function createBusiness(em: EntityManager, input: CreateBusinessInput): Promise<CreatedBusiness> {
  try {
    return await em.fork().transactional(async (tx) => {
      const db = sql(tx);
      const business = await db
        .insertInto('Business')
        .values({ name: input.name, ...(input.timezone ? { timezone: input.timezone } : {}), ...(input.locale ? { locale: input.locale } : {}) })
        .returningAll()
        .executeTakeFirstOrThrow();
      await db.insertInto('BusinessSettings').values({ business: business.id }).execute();
      if (input.phoneNumbers.length) {
        await db.insertInto('PhoneNumber').values(input.phoneNumbers.map((e164) => ({ e164, business: business.id }))).execute();
      }
      const { apiKey, key } = await issueApiKey(tx, { businessId: business.id, role: 'admin', name: 'first admin key' });
      return { business, apiKey, key };
    });
  } catch (error) {
    if (isUniqueViolation(error, 'phone_numbers_pkey')) {
      throw new AppError('CONFLICT', 'phone number already assigned', {
        userMessage: 'One of the phone numbers already belongs to a business.',
        cause: error,
      });
    }
    throw error;
  }
}

/** Settings a business may change (the webhook secret only rotates). */
export type SettingsChanges = Partial<Omit<Row<BusinessSettings>, 'business' | 'webhookSecret' | 'updatedAt'>>;

/**
 * Changes a business's settings and returns them. The transfer number must stay one the
 * business may dial (core/dialable-numbers.ts): a change of it, or of the allowed countries,
 * that would leave a refused one is VALIDATION_FAILED and changes nothing.
 */
export async function updateBusinessSettings(em: EntityManager, businessId: string, changes: SettingsChanges): Promise<Row<BusinessSettings>> {
  return em.fork().transactional(async (tx) => {
    const db = sql(tx);
    const row = hasChanges(changes)
      ? await db.updateTable('BusinessSettings').set(changes).where('business', '=', businessId).returningAll().executeTakeFirst()
      : await db.selectFrom('BusinessSettings').selectAll().where('business', '=', businessId).executeTakeFirst();
    if (!row) throw new AppError('NOT_FOUND', 'business has no settings');
    if (row.transferNumber && (changes.transferNumber !== undefined || changes.allowedCountries !== undefined)) {
      const field = changes.transferNumber ? 'input.transferNumber' : 'input.allowedCountries';
      assertDialable([{ e164: row.transferNumber, field, label: 'The transfer number' }], await businessDialingCountries(tx, businessId));
    }
    return row;
  });
}
