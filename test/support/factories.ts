import type { EntityManager } from '@mikro-orm/postgresql';
import type { Call } from '../../src/entities/call.entity.ts';
import { sql, type Row } from '../../src/entities/sql.ts';
import { twilioSid } from '../../src/sandbox/ids.ts';
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
  business: { id: string },
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

/** A finished inbound call of `businessId`; any column can be overridden. */
export async function createCall(
  em: EntityManager,
  businessId: string,
  overrides: Partial<Omit<Row<Call>, 'id' | 'business'>> = {},
): Promise<Row<Call>> {
  return sql(em.fork())
    .insertInto('Call')
    .values({
      business: businessId,
      callSid: twilioSid('CA'),
      direction: 'inbound',
      fromNumber: '+972501234567',
      toNumber: '+97233824100',
      status: 'completed',
      durationSec: 60,
      ...overrides,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}
