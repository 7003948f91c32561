import type { EntityManager } from '@mikro-orm/postgresql';
import { AppError } from '../core/errors.ts';
import { appointmentOverlapConstraint, type Appointment } from './appointment.entity.ts';
import { isDeadlock, isExclusionViolation } from './postgres-errors.ts';
import { sql, type Row } from './sql.ts';

export interface BookAppointmentInput {
  businessId: string;
  leadId?: string | null;
  callId?: string | null;
  startsAt: Date;
  endsAt: Date;
  notes?: string | null;
}

/**
 * Books an appointment: the lead and call must be the business's (NOT_FOUND otherwise),
 * then one insert. The database decides whether the slot is free (exclusion constraint),
 * so two bookings racing for one slot cannot both succeed; the loser gets
 * AppError('CONFLICT').
 */
export async function bookAppointment(em: EntityManager, input: BookAppointmentInput): Promise<Row<Appointment>> {
  if (!(input.endsAt > input.startsAt)) {
    throw new AppError('VALIDATION_FAILED', 'an appointment must end after it starts', {
      userMessage: 'The appointment must end after it starts.',
      details: { field: 'input.endsAt' },
    });
  }
  await assertOwned(em, input);
  return insertAppointment(em, input);
}

/**
 * The booking write itself, one statement, for callers whose lead and call are already
 * known to be the business's (a live call's context): overlap → CONFLICT.
 */
export async function insertAppointment(em: EntityManager, input: BookAppointmentInput): Promise<Row<Appointment>> {
  // Two overlapping inserts at once can deadlock on the exclusion constraint's index (each
  // waits for the other's uncommitted row); Postgres aborts one after deadlock_timeout (1 s).
  // Outside a transaction the statement is simply tried again: the other booking has then
  // committed (→ CONFLICT) or rolled back (→ this one books). Inside one, the transaction is
  // aborted and its owner decides. test/integration/database.test.ts saw the deadlock under load.
  for (let attempt = 1; ; attempt++) {
    try {
      return await insertAppointmentOnce(em, input);
    } catch (error) {
      if (!isDeadlock(error) || em.isInTransaction() || attempt === 3) throw error;
    }
  }
}

async function insertAppointmentOnce(em: EntityManager, input: BookAppointmentInput): Promise<Row<Appointment>> {
  try {
    return await sql(em)
      .insertInto('Appointment')
      .values({
        business: input.businessId,
        lead: input.leadId ?? null,
        call: input.callId ?? null,
        startsAt: input.startsAt,
        endsAt: input.endsAt,
        notes: input.notes ?? null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  } catch (error) {
    if (isExclusionViolation(error, appointmentOverlapConstraint)) {
      throw new AppError('CONFLICT', 'the slot overlaps another booked appointment', {
        userMessage: 'That time is already booked.',
        cause: error,
      });
    }
    throw error;
  }
}

/** The lead and call named by a booking must belong to its business. */
async function assertOwned(em: EntityManager, input: BookAppointmentInput): Promise<void> {
  const db = sql(em);
  const [lead, call] = await Promise.all([
    input.leadId ? db.selectFrom('Lead').select('id').where('id', '=', input.leadId).where('business', '=', input.businessId).executeTakeFirst() : true,
    input.callId ? db.selectFrom('Call').select('id').where('id', '=', input.callId).where('business', '=', input.businessId).executeTakeFirst() : true,
  ]);
  if (!lead) throw new AppError('NOT_FOUND', 'no such lead', { userMessage: 'No lead with that id.', details: { field: 'input.leadId' } });
  if (!call) throw new AppError('NOT_FOUND', 'no such call', { userMessage: 'No call with that id.', details: { field: 'input.callId' } });
}

/**
 * Cancels a booked appointment of `businessId`, freeing its slot. Canceling a canceled one
 * answers with it unchanged; a completed or no-show appointment cannot be canceled.
 */
export async function cancelAppointment(em: EntityManager, businessId: string, appointmentId: string): Promise<Row<Appointment>> {
  const current = await sql(em)
    .selectFrom('Appointment')
    .selectAll()
    .where('id', '=', appointmentId)
    .where('business', '=', businessId)
    .executeTakeFirst();
  if (!current) throw new AppError('NOT_FOUND', 'no such appointment', { userMessage: 'No appointment with that id.' });
  if (current.status === 'canceled') return current;
  const canceled = await sql(em)
    .updateTable('Appointment')
    .set({ status: 'canceled' })
    .where('id', '=', appointmentId)
    .where('status', '=', 'booked')
    .returningAll()
    .executeTakeFirst();
  if (!canceled) {
    throw new AppError('CONFLICT', `appointment is ${current.status}`, { userMessage: `The appointment is already ${current.status}.` });
  }
  return canceled;
}

export interface AppointmentWindow {
  from: Date;
  to: Date;
  leadId?: string | null;
}

/** Most appointments one listing returns. */
export const maxAppointmentsListed = 500;

/** A business's appointments overlapping [from, to), by start. */
export async function listAppointments(em: EntityManager, businessId: string, window: AppointmentWindow): Promise<Row<Appointment>[]> {
  let query = sql(em)
    .selectFrom('Appointment')
    .selectAll()
    .where('business', '=', businessId)
    .where('startsAt', '<', window.to)
    .where('endsAt', '>', window.from);
  if (window.leadId) query = query.where('lead', '=', window.leadId);
  return query.orderBy('startsAt').orderBy('id').limit(maxAppointmentsListed).execute();
}
