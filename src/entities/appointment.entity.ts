import { randomUUID } from 'node:crypto';
import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { Business } from './business.entity.ts';
import { Call } from './call.entity.ts';
import { Lead } from './lead.entity.ts';

export const appointmentStatuses = ['booked', 'canceled', 'completed', 'no-show'] as const;
export type AppointmentStatus = (typeof appointmentStatuses)[number];

/**
 * A booked slot. Invariant, enforced by Postgres (exclusion constraint
 * `appointments_no_overlap`): booked appointments of one business never overlap.
 * Intervals are half-open, so back-to-back slots are fine.
 */
export const Appointment = defineEntity({
  name: 'Appointment',
  tableName: 'appointments',
  properties: {
    id: p.uuid().primary().onCreate(() => randomUUID()),
    business: () => p.manyToOne(Business).deleteRule('cascade'),
    lead: () => p.manyToOne(Lead).nullable().deleteRule('set null').index(),
    call: () => p.manyToOne(Call).nullable().deleteRule('set null').index(),
    startsAt: p.datetime(),
    endsAt: p.datetime(),
    status: p.enum(appointmentStatuses).default('booked'),
    notes: p.text().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  },
  indexes: [{ properties: ['business', 'startsAt'], name: 'appointments_business_starts_at_index' }],
  checks: [{ name: 'appointments_ends_after_start', expression: 'ends_at > starts_at' }],
  // The no-overlap exclusion constraint is not expressible here; the initial migration adds it.
});
export type Appointment = InferEntity<typeof Appointment>;

/** Name of the exclusion constraint, for telling an overlap apart from other failures. */
export const appointmentOverlapConstraint = 'appointments_no_overlap';
