import type { EntityManager } from '@mikro-orm/postgresql';
import { sql as raw } from 'kysely';
import { dialingCountries, dialRefusal } from '../core/dialable-numbers.ts';
import { AppError } from '../core/errors.ts';
import { sql } from './sql.ts';

/**
 * The countries `businessId`'s calls may reach (core/dialable-numbers.ts): its
 * `allowedCountries`, else its own country. One statement.
 */
export async function businessDialingCountries(em: EntityManager, businessId: string): Promise<string[]> {
  const row = await sql(em)
    .selectFrom('BusinessSettings')
    .innerJoin('Business', 'Business.id', 'BusinessSettings.business')
    .select(['BusinessSettings.allowedCountries', 'Business.locale'])
    .select(raw<string[]>`array(select "e164" from "phone_numbers" where "business_id" = ${businessId})`.as('phoneNumbers'))
    .where('BusinessSettings.business', '=', businessId)
    .executeTakeFirst();
  if (!row) throw new AppError('NOT_FOUND', 'business has no settings');
  return dialingCountries(row.allowedCountries, row.phoneNumbers, row.locale);
}

/** A number to be dialed, and the input field a refusal is reported on. */
export interface NumberToDial {
  e164: string;
  /** Input path, e.g. `input.leadId`. */
  field: string;
  /** Says whose number it is in the message, e.g. "the lead's number". */
  label: string;
}

/**
 * Throws VALIDATION_FAILED (a GraphQL `ValidationError` on `field`) for the first number
 * in `numbers` the business may not dial, saying why; returns when all may be dialed.
 */
export function assertDialable(numbers: readonly NumberToDial[], countries: readonly string[]): void {
  for (const { e164, field, label } of numbers) {
    const refusal = dialRefusal(e164, countries);
    if (refusal) throw new AppError('VALIDATION_FAILED', `refused to dial: ${refusal}`, { userMessage: `${label} ${refusal}`, details: { field } });
  }
}
