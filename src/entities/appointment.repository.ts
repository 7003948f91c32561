import { DriverException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { AppError } from '../core/errors.ts';
import { Appointment, appointmentOverlapConstraint } from './appointment.entity.ts';

export interface BookAppointmentInput {
  businessId: string;
  leadId?: string | null;
  callId?: string | null;
  startsAt: Date;
  endsAt: Date;
  notes?: string | null;
}

/**
 * Books an appointment in its own transaction. The database decides whether the slot is
 * free (exclusion constraint), so two bookings racing for one slot cannot both succeed;
 * the loser gets AppError('CONFLICT').
 */
export async function bookAppointment(em: EntityManager, input: BookAppointmentInput): Promise<Appointment> {
  if (!(input.endsAt > input.startsAt)) {
    throw new AppError('VALIDATION_FAILED', 'an appointment must end after it starts', {
      userMessage: 'The appointment must end after it starts.',
    });
  }
  try {
    return await em.fork().transactional(async (tx) => {
      const appointment = tx.create(Appointment, {
        business: input.businessId,
        lead: input.leadId ?? null,
        call: input.callId ?? null,
        startsAt: input.startsAt,
        endsAt: input.endsAt,
        notes: input.notes ?? null,
      });
      await tx.flush();
      return appointment;
    });
  } catch (error) {
    if (isOverlap(error)) {
      throw new AppError('CONFLICT', 'the slot overlaps another booked appointment', {
        userMessage: 'That time is already booked.',
        cause: error,
      });
    }
    throw error;
  }
}

/** MikroORM maps no exception class to SQLSTATE 23P01 (exclusion violation); match it by code. */
function isOverlap(error: unknown): boolean {
  // The driver copies Postgres's error fields (constraint, table, …) onto the exception.
  const constraint = (error as { constraint?: unknown }).constraint;
  return error instanceof DriverException && error.code === '23P01' && constraint === appointmentOverlapConstraint;
}
