import { z } from 'zod';
import { genders, leadStatuses } from '../entities/lead.entity.ts';
import { callsPerLead } from '../loaders/index.ts';
import { createLead, listLeads, updateLead } from '../entities/lead.repository.ts';
import { builder } from './builder.ts';
import { businessIdOf, type GraphQLContext } from './context.ts';
import { enumValues } from './enums.ts';
import { ConflictError, FieldValidationError, NotFoundError, domain } from './errors.ts';
import { noNulls, phoneNumber, text } from './inputs.ts';
import { connectionOf, defaultPageSize, pageArgs, pageComplexity, pageRequest, toConnection } from './pagination.ts';
import { AppointmentRef, CallRef, LeadRef } from './refs.ts';

export const LeadStatus = builder.enumType('LeadStatus', { values: enumValues(leadStatuses) });
export const Gender = builder.enumType('Gender', {
  description: 'Chooses the grammatical form when the agent speaks Hebrew to the lead.',
  values: enumValues(genders),
});

LeadRef.implement({
  description: 'A person who called or was called; one per phone number per business.',
  authScopes: (lead) => ({ tenant: lead.business }),
  fields: (t) => ({
    id: t.exposeID('id'),
    phone: t.exposeString('phone', { description: 'E.164, e.g. +972501234567.' }),
    fullName: t.exposeString('fullName', { nullable: true }),
    firstName: t.exposeString('firstName', { nullable: true, description: 'Derived from fullName, titles skipped.' }),
    gender: t.expose('gender', { type: Gender, nullable: true }),
    city: t.exposeString('city', { nullable: true }),
    serviceCategory: t.exposeString('serviceCategory', { nullable: true }),
    status: t.expose('status', { type: LeadStatus }),
    notes: t.exposeString('notes', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
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

const LeadFilter = builder.inputType('LeadFilter', {
  fields: (t) => ({
    status: t.field({ type: [LeadStatus] }),
    city: t.string(),
    serviceCategory: t.string(),
    search: t.string({ description: 'Part of the name, or digits of the phone number.', validate: z.string().max(200) }),
    createdFrom: t.field({ type: 'DateTime' }),
    createdTo: t.field({ type: 'DateTime' }),
  }),
});

const LeadConnection = connectionOf('Lead', LeadRef);

builder.queryFields((t) => ({
  leads: t.field({
    type: LeadConnection,
    authScopes: { reader: true },
    description: 'The business’s leads, newest first.',
    args: {
      first: t.arg.int({ defaultValue: defaultPageSize, validate: pageArgs.first }),
      after: t.arg.string(),
      filter: t.arg({ type: LeadFilter }),
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
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => ownLead(ctx, String(args.id)),
  }),
  leadByPhone: t.field({
    type: LeadRef,
    nullable: true,
    authScopes: { reader: true },
    description: 'The lead with this phone number (any common format, e.g. 050-123-4567); null when there is none.',
    args: { phone: t.arg.string({ required: true, validate: phoneNumber }) },
    resolve: (_root, args, ctx) => ctx.loaders.leadByPhone.load({ businessId: businessIdOf(ctx), phone: args.phone }),
  }),
}));

/** The lead with `id` when it belongs to the request's business. */
export async function ownLead(ctx: GraphQLContext, id: string) {
  if (!z.uuid().safeParse(id).success) return null;
  const lead = await ctx.loaders.leadById.load(id);
  return lead?.business === businessIdOf(ctx) ? lead : null;
}

const leadFields = {
  fullName: text(200),
  city: text(100),
  serviceCategory: text(100),
  notes: text(5000),
};

const CreateLeadInput = builder.inputType('CreateLeadInput', {
  fields: (t) => ({
    phone: t.string({ required: true, validate: phoneNumber }),
    fullName: t.string({ validate: leadFields.fullName }),
    gender: t.field({ type: Gender }),
    city: t.string({ validate: leadFields.city }),
    serviceCategory: t.string({ validate: leadFields.serviceCategory }),
    status: t.field({ type: LeadStatus }),
    notes: t.string({ validate: leadFields.notes }),
  }),
});

const UpdateLeadInput = builder.inputType('UpdateLeadInput', {
  description: 'Fields left out stay as they are; null clears a field that may be empty.',
  validate: noNulls(['phone', 'status']),
  fields: (t) => ({
    phone: t.string({ validate: phoneNumber }),
    fullName: t.string({ validate: leadFields.fullName }),
    gender: t.field({ type: Gender }),
    city: t.string({ validate: leadFields.city }),
    serviceCategory: t.string({ validate: leadFields.serviceCategory }),
    status: t.field({ type: LeadStatus }),
    notes: t.string({ validate: leadFields.notes }),
  }),
});

builder.mutationFields((t) => ({
  createLead: t.field({
    type: LeadRef,
    authScopes: { supervisor: true },
    description: 'Adds a lead. A phone number the business already has is a ConflictError.',
    errors: { types: [FieldValidationError, ConflictError], directResult: true },
    args: { input: t.arg({ type: CreateLeadInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      domain(() => createLead(ctx.em, businessIdOf(ctx), { ...withoutUndefined(input), status: input.status ?? undefined })),
  }),
  updateLead: t.field({
    type: LeadRef,
    authScopes: { supervisor: true },
    description: 'Changes a lead. Setting fullName re-derives firstName.',
    errors: { types: [FieldValidationError, NotFoundError, ConflictError], directResult: true },
    args: { id: t.arg.id({ required: true, validate: z.uuid('is not a lead id') }), input: t.arg({ type: UpdateLeadInput, required: true }) },
    resolve: (_root, { id, input }, ctx) =>
      domain(() => updateLead(ctx.em, businessIdOf(ctx), String(id), { ...withoutUndefined(input), status: input.status ?? undefined, phone: input.phone ?? undefined })),
  }),
}));

/** The input's keys that were given (GraphQL leaves absent fields undefined). */
export function withoutUndefined<T extends object>(input: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined)) as { [K in keyof T]: Exclude<T[K], undefined> };
}
