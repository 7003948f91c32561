import { z } from 'zod';
import { genders, leadStatuses } from '../entities/lead.entity.ts';
import { callsPerLead } from '../loaders/index.ts';
import { createLead, listLeads, updateLead } from '../entities/lead.repository.ts';
import { builder, type Types } from './builder.ts';
import { businessIdOf, ownRow } from './context.ts';
import { enumValues } from './enums.ts';
import { ConflictError, FieldValidationError, NotFoundError, domain } from './errors.ts';
import { noNulls, phoneNumber, text } from './inputs.ts';
import { NodeRef } from './node.ts';
import { connectionOf, pageArguments, pageComplexity, pageRequest, toConnection } from './pagination.ts';
import { AppointmentRef, CallRef, LeadRef } from './refs.ts';

export const LeadStatus = builder.enumType('LeadStatus', {
  description: 'Where the lead stands with the business. Set through createLead and updateLead; Callwatch’s agent never changes it.',
  values: enumValues(leadStatuses, {
    new: 'Not yet handled (the default).',
    contacted: 'The business has been in touch.',
    qualified: 'A real prospect for the business’s services.',
    booked: 'Has an appointment.',
    won: 'Became a customer.',
    lost: 'Will not become a customer.',
  }),
});
export const Gender = builder.enumType('Gender', {
  description: 'Chooses the grammatical form when the agent speaks Hebrew to the lead.',
  values: enumValues(genders, { male: 'Masculine forms.', female: 'Feminine forms.' }),
});

LeadRef.implement({
  interfaces: [NodeRef],
  description: 'A person who called or was called; one per phone number per business.',
  authScopes: (lead) => ({ tenant: lead.business }),
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The lead’s id.' }),
    phone: t.exposeString('phone', { description: 'E.164, e.g. +972501234567; once erased, a placeholder (# and 15 hex digits).' }),
    fullName: t.exposeString('fullName', { nullable: true, description: 'As the CRM or the agent recorded it; null when unknown or erased.' }),
    firstName: t.exposeString('firstName', { nullable: true, description: 'Derived from fullName, titles skipped.' }),
    gender: t.expose('gender', { type: Gender, nullable: true, description: 'Null when unknown: the agent then uses masculine forms.' }),
    city: t.exposeString('city', { nullable: true, description: 'Where the lead lives or needs the service; null when unknown.' }),
    serviceCategory: t.exposeString('serviceCategory', { nullable: true, description: 'What the lead needs, in the business’s own words; null when unknown.' }),
    status: t.expose('status', { type: LeadStatus, description: 'Where the lead stands with the business.' }),
    notes: t.exposeString('notes', { nullable: true, description: 'Free text for the business; null when none.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the lead was added (by a call or by the CRM).' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'When any of its fields last changed.' }),
    erasedAt: t.expose('erasedAt', { type: 'DateTime', nullable: true, description: 'When eraseLead removed this person’s data; null otherwise.' }),
    calls: t.field({
      type: [CallRef],
      description: 'The lead’s most recent calls (up to 50), newest first.',
      complexity: { field: 1, multiplier: callsPerLead },
      resolve: (lead, _args, ctx) => ctx.loaders.callsByLeadId.load(lead.id),
    }),
    appointments: t.field({
      type: [AppointmentRef],
      description: 'The lead’s appointments in every status, by start time.',
      resolve: (lead, _args, ctx) => ctx.loaders.appointmentsByLeadId.load(lead.id),
    }),
  }),
});

export const LeadFilter = builder.inputType('LeadFilter', {
  description: 'Which leads to list; every field given must match (AND).',
  fields: (t) => ({
    status: t.field({ type: [LeadStatus], description: 'Any of these statuses.' }),
    city: t.string({ description: 'The city, exactly.' }),
    serviceCategory: t.string({ description: 'The service category, exactly.' }),
    search: t.string({ description: 'Part of the name, or digits of the phone number.', validate: z.string().max(200) }),
    createdFrom: t.field({ type: 'DateTime', description: 'Leads added at or after this instant.' }),
    createdTo: t.field({ type: 'DateTime', description: 'Leads added before this instant.' }),
  }),
});

const LeadConnection = connectionOf('Lead', LeadRef);

builder.queryFields((t) => ({
  leads: t.field({
    type: LeadConnection,
    authScopes: { reader: true },
    description: 'The business’s leads, newest first.',
    args: {
      ...pageArguments(t.arg),
      filter: t.arg({ type: LeadFilter, description: 'Only leads matching it; all leads when left out.' }),
    },
    complexity: pageComplexity,
    resolve: async (_root, args, ctx, info) => {
      const page = await listLeads(ctx.em, businessIdOf(ctx), args.filter ?? {}, pageRequest(args, info));
      for (const lead of page.rows) ctx.loaders.leadById.prime(lead.id, lead);
      return toConnection(page);
    },
  }),
  lead: t.field({
    type: LeadRef,
    nullable: true,
    authScopes: { reader: true },
    description: 'A lead by id; null when this business has none with that id.',
    args: { id: t.arg.id({ required: true, description: 'The Lead.id.' }) },
    resolve: (_root, args, ctx) => ownRow(ctx, ctx.loaders.leadById, String(args.id)),
  }),
  leadByPhone: t.field({
    type: LeadRef,
    nullable: true,
    authScopes: { reader: true },
    description: 'The lead with this phone number (any common format, e.g. 050-123-4567); null when there is none.',
    args: { phone: t.arg.string({ required: true, description: 'The phone number, in any common format.', validate: phoneNumber }) },
    resolve: (_root, args, ctx) => ctx.loaders.leadByPhone.load({ businessId: businessIdOf(ctx), phone: args.phone }),
  }),
}));

/** What both lead inputs let a client set besides the phone number. */
const editableLeadFields = (t: PothosSchemaTypes.InputFieldBuilder<Types, 'InputObject'>) => ({
  fullName: t.string({ description: 'At most 200 characters; firstName is derived from it.', validate: text(200) }),
  gender: t.field({ type: Gender, description: 'The grammatical form the agent uses.' }),
  city: t.string({ description: 'At most 100 characters.', validate: text(100) }),
  serviceCategory: t.string({ description: 'At most 100 characters.', validate: text(100) }),
  status: t.field({ type: LeadStatus, description: 'Default NEW for a new lead.' }),
  notes: t.string({ description: 'At most 5000 characters.', validate: text(5000) }),
});

const CreateLeadInput = builder.inputType('CreateLeadInput', {
  description: 'A new lead: a phone number, and what is known about the person.',
  fields: (t) => ({ phone: t.string({ required: true, description: 'Any common format (050-123-4567, +972501234567); stored as E.164. One lead per number.', validate: phoneNumber }), ...editableLeadFields(t) }),
});

const UpdateLeadInput = builder.inputType('UpdateLeadInput', {
  description: 'Fields left out stay as they are; null clears a field that may be empty.',
  validate: noNulls(['phone', 'status']),
  fields: (t) => ({ phone: t.string({ description: 'A new number, in any common format; one the business already has is a ConflictError.', validate: phoneNumber }), ...editableLeadFields(t) }),
});

builder.mutationFields((t) => ({
  createLead: t.field({
    type: LeadRef,
    authScopes: { supervisor: true },
    description: 'Adds a lead. A phone number the business already has is a ConflictError.',
    errors: { types: [FieldValidationError, ConflictError], directResult: true },
    args: { input: t.arg({ type: CreateLeadInput, required: true, description: 'The lead’s phone number and details.' }) },
    resolve: (_root, { input }, ctx) =>
      domain(() => createLead(ctx.em, businessIdOf(ctx), { ...input, status: input.status ?? undefined })),
  }),
  updateLead: t.field({
    type: LeadRef,
    authScopes: { supervisor: true },
    description: 'Changes a lead. Setting fullName re-derives firstName.',
    errors: { types: [FieldValidationError, NotFoundError, ConflictError], directResult: true },
    args: { id: t.arg.id({ required: true, description: 'The lead to change.', validate: z.uuid('is not a lead id') }), input: t.arg({ type: UpdateLeadInput, required: true, description: 'The fields to change.' }) },
    resolve: (_root, { id, input }, ctx) =>
      domain(() => updateLead(ctx.em, businessIdOf(ctx), String(id), { ...input, status: input.status ?? undefined, phone: input.phone ?? undefined })),
  }),
}));

