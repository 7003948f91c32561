import { z } from 'zod';
import { appointmentStatuses } from '../entities/appointment.entity.ts';
import { bookAppointment, cancelAppointment, listAppointments } from '../entities/appointment.repository.ts';
import { builder } from './builder.ts';
import { businessIdOf } from './context.ts';
import { enumValues } from './enums.ts';
import { ConflictError, FieldValidationError, NotFoundError, domain } from './errors.ts';
import { text } from './inputs.ts';
import { NodeRef } from './node.ts';
import { AppointmentRef, CallRef, LeadRef } from './refs.ts';

const AppointmentStatus = builder.enumType('AppointmentStatus', {
  description: 'Where an appointment stands. Only BOOKED appointments hold their slot.',
  values: enumValues(appointmentStatuses, {
    booked: 'Holds its slot: no other booked appointment may overlap it.',
    canceled: 'Canceled (cancelAppointment); its slot is free again.',
    completed: 'Took place. Callwatch itself does not set it yet.',
    'no-show': 'The lead did not come. Callwatch itself does not set it yet.',
  }),
});

AppointmentRef.implement({
  interfaces: [NodeRef],
  description: 'A booked slot. Booked appointments of one business never overlap.',
  authScopes: (appointment) => ({ tenant: appointment.business }),
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The appointment’s id.' }),
    startsAt: t.expose('startsAt', { type: 'DateTime', description: 'When the slot begins.' }),
    endsAt: t.expose('endsAt', { type: 'DateTime', description: 'When the slot ends (exclusive: the next slot may start then).' }),
    status: t.expose('status', { type: AppointmentStatus, description: 'Where the appointment stands.' }),
    notes: t.exposeString('notes', { nullable: true, description: 'Free text from whoever booked it (the agent or the CRM); null when none, or after eraseLead.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was booked.' }),
    lead: t.field({
      type: LeadRef,
      nullable: true,
      description: 'Who the appointment is with; null when booked without a lead.',
      resolve: (appointment, _args, ctx) => (appointment.lead ? ctx.loaders.leadById.load(appointment.lead) : null),
    }),
    call: t.field({
      type: CallRef,
      nullable: true,
      description: 'The call during which it was booked.',
      resolve: (appointment, _args, ctx) => (appointment.call ? ctx.loaders.callById.load(appointment.call) : null),
    }),
  }),
});

const maxWindowDays = 92;
const id = (what: string) => z.uuid(`is not a ${what} id`);

builder.queryField('appointments', (t) =>
  t.field({
    type: [AppointmentRef],
    authScopes: { reader: true },
    description: `Appointments overlapping [from, to) (at most ${maxWindowDays} days, 500 appointments), by start time.`,
    args: t.validate(
      {
        from: t.arg({ type: 'DateTime', required: true, description: 'Start of the window (inclusive).' }),
        to: t.arg({ type: 'DateTime', required: true, description: 'End of the window (exclusive), after from.' }),
        leadId: t.arg.id({ description: 'Only this lead’s appointments.' }),
      },
      z
        .object({ from: z.date(), to: z.date(), leadId: id('lead').nullish() })
        .refine((args) => args.to > args.from, { message: 'must be after from', path: ['to'] })
        .refine((args) => args.to.getTime() - args.from.getTime() <= maxWindowDays * 86_400_000, {
          message: `the window must be at most ${maxWindowDays} days`,
          path: ['to'],
        }),
    ),
    complexity: { field: 1, multiplier: 50 },
    resolve: (_root, args, ctx) => listAppointments(ctx.em, businessIdOf(ctx), args),
  }),
);

const BookAppointmentInput = builder.inputType('BookAppointmentInput', {
  description: 'A slot to book, optionally for a lead and linked to the call it was agreed on.',
  fields: (t) => ({
    leadId: t.id({ description: 'The lead the appointment is with.', validate: id('lead').nullish() }),
    callId: t.id({ description: 'The call during which it was agreed.', validate: id('call').nullish() }),
    startsAt: t.field({ type: 'DateTime', required: true, description: 'When the slot begins.' }),
    endsAt: t.field({ type: 'DateTime', description: 'Default: startsAt plus the business’s appointment slot length.' }),
    notes: t.string({ description: 'Free text, at most 2000 characters.', validate: text(2000) }),
  }),
});

builder.mutationFields((t) => ({
  bookAppointment: t.field({
    type: AppointmentRef,
    authScopes: { supervisor: true },
    description: 'Books a slot. A slot overlapping a booked appointment is a ConflictError.',
    errors: { types: [FieldValidationError, NotFoundError, ConflictError], directResult: true },
    args: { input: t.arg({ type: BookAppointmentInput, required: true, description: 'The slot, and who it is for.' }) },
    resolve: (_root, { input }, ctx) =>
      domain(async () => {
        const businessId = businessIdOf(ctx);
        const slotMinutes = input.endsAt ? 0 : ((await ctx.loaders.settingsByBusinessId.load(businessId))?.appointmentSlotMinutes ?? 30);
        return bookAppointment(ctx.em, {
          businessId,
          leadId: input.leadId ?? null,
          callId: input.callId ?? null,
          startsAt: input.startsAt,
          endsAt: input.endsAt ?? new Date(input.startsAt.getTime() + slotMinutes * 60_000),
          notes: input.notes ?? null,
        });
      }),
  }),
  cancelAppointment: t.field({
    type: AppointmentRef,
    authScopes: { supervisor: true },
    description: 'Cancels a booked appointment and frees its slot.',
    errors: { types: [FieldValidationError, NotFoundError, ConflictError], directResult: true },
    args: { id: t.arg.id({ required: true, description: 'The appointment to cancel.', validate: id('appointment') }) },
    resolve: (_root, args, ctx) => domain(() => cancelAppointment(ctx.em, businessIdOf(ctx), String(args.id))),
  }),
}));
