import type { EntityManager } from '@mikro-orm/postgresql';
import { BusinessSettings } from './business-settings.entity.ts';
import { PhoneNumber } from './phone-number.entity.ts';

/** The business answering on `e164` and its settings, or null for a number nobody owns. */
export async function findBusinessByNumber(em: EntityManager, e164: string): Promise<BusinessSettings | null> {
  const number = await em.findOne(PhoneNumber, { e164 });
  if (!number) return null;
  return em.findOne(BusinessSettings, { business: number.business.id }, { populate: ['business'] });
}
