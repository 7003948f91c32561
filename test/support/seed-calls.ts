import { randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Call } from '../../src/entities/call.entity.ts';
import { sql, type Row } from '../../src/entities/sql.ts';

/** A Twilio-shaped call SID (CA + 32 hex digits). */
export function callSid(): string {
  return `CA${randomBytes(16).toString('hex')}`;
}

/** Inserts a finished call of `businessId`; any column can be overridden. */
export async function insertCall(
  em: EntityManager,
  businessId: string,
  overrides: Partial<Omit<Row<Call>, 'id' | 'business'>> = {},
): Promise<Row<Call>> {
  return sql(em.fork())
    .insertInto('Call')
    .values({
      business: businessId,
      callSid: callSid(),
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
