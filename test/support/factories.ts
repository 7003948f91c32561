import type { EntityManager } from '@mikro-orm/postgresql';
import { BusinessSettings } from '../../src/entities/business-settings.entity.ts';
import { Business } from '../../src/entities/business.entity.ts';
import { Lead } from '../../src/entities/lead.entity.ts';
import { PhoneNumber } from '../../src/entities/phone-number.entity.ts';

let sequence = 0;

/** A business with its settings and one phone number; fields can be overridden. */
export async function createBusiness(
  em: EntityManager,
  overrides: Partial<{ name: string; phone: string }> = {},
): Promise<Business> {
  sequence += 1;
  const fork = em.fork();
  const business = fork.create(Business, { name: overrides.name ?? `Business ${sequence}` });
  fork.create(BusinessSettings, { business });
  fork.create(PhoneNumber, { e164: overrides.phone ?? `+9723${String(1_000_000 + sequence).slice(-7)}`, business });
  await fork.flush();
  return business;
}

/** A lead of `business`; the phone is unique per call unless given. */
export async function createLead(
  em: EntityManager,
  business: Business,
  overrides: Partial<{ phone: string; fullName: string; firstName: string; gender: 'male' | 'female' }> = {},
): Promise<Lead> {
  sequence += 1;
  const fork = em.fork();
  const lead = fork.create(Lead, {
    business: business.id,
    phone: overrides.phone ?? `+97250${String(1_000_000 + sequence).slice(-7)}`,
    fullName: overrides.fullName ?? null,
    firstName: overrides.firstName ?? null,
    gender: overrides.gender ?? null,
  });
  await fork.flush();
  return lead;
}
