import { z } from 'zod';
import { attemptOutcomes, outboundJobStatuses } from '../entities/outbound-call-job.entity.ts';
import { publishOutboundJob } from '../entities/outbound-attempt.repository.ts';
import { cancelOutboundCall, listOutboundCallJobs, scheduleOutboundCall } from '../entities/outbound-call-job.repository.ts';
import { builder } from './builder.ts';
import { businessIdOf } from './context.ts';
import { enumValues } from './enums.ts';
import { ConflictError, FieldValidationError, NotFoundError, domain } from './errors.ts';
import { text } from './inputs.ts';
import { NodeRef } from './node.ts';
import { connectionOf, pageArguments, pageComplexity, pageRequest, toConnection } from './pagination.ts';
import { CallRef, CampaignRef, LeadRef, OutboundCallJobRef } from './refs.ts';

export const OutboundCallJobStatus = builder.enumType('OutboundCallJobStatus', { values: enumValues(outboundJobStatuses) });
const AttemptOutcome = builder.enumType('AttemptOutcome', { values: enumValues(attemptOutcomes), description: 'How an attempt ended.' });

OutboundCallJobRef.implement({
  interfaces: [NodeRef],
  description: 'A call the agent places to a lead, and why.',
  authScopes: (job) => ({ tenant: job.business }),
  fields: (t) => ({
    id: t.exposeID('id'),
    purpose: t.exposeString('purpose'),
    instructions: t.exposeString('instructions', { nullable: true }),
    scheduledAt: t.expose('scheduledAt', { type: 'DateTime', description: 'When the next attempt is due: the first, or a retry (status QUEUED).' }),
    notAfter: t.expose('notAfter', { type: 'DateTime', nullable: true, description: 'No attempt starts after this (the campaign’s window).' }),
    attempts: t.exposeInt('attempts', { description: 'Attempts placed so far.' }),
    status: t.expose('status', {
      type: OutboundCallJobStatus,
      description: 'QUEUED (waiting for the first attempt or a retry), DIALING, IN_PROGRESS, then COMPLETED, NO_ANSWER, BUSY, FAILED or CANCELED.',
    }),
    lastOutcome: t.expose('lastOutcome', { type: AttemptOutcome, nullable: true, description: 'How the latest attempt ended; VOICEMAIL counts as no answer.' }),
    lastError: t.exposeString('lastError', { nullable: true, description: 'Why the latest attempt failed, e.g. Twilio’s refusal of the number.' }),
    campaign: t.field({
      type: CampaignRef,
      nullable: true,
      resolve: (job, _args, ctx) => (job.campaign ? ctx.loaders.campaignById.load(job.campaign) : null),
    }),
    lastCallSid: t.exposeString('lastCallSid', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    lead: t.field({ type: LeadRef, nullable: true, resolve: (job, _args, ctx) => ctx.loaders.leadById.load(job.lead) }),
    lastCall: t.field({
      type: CallRef,
      nullable: true,
      description: 'The latest attempt’s call.',
      resolve: (job, _args, ctx) => (job.lastCallSid ? ctx.loaders.callBySid.load(job.lastCallSid) : null),
    }),
  }),
});

const OutboundCallJobConnection = connectionOf('OutboundCallJob', OutboundCallJobRef);

builder.queryField('outboundCallJobs', (t) =>
  t.field({
    type: OutboundCallJobConnection,
    authScopes: { reader: true },
    description: 'The business’s outbound calls, newest first.',
    args: {
      ...pageArguments(t.arg),
      status: t.arg({ type: [OutboundCallJobStatus], description: 'Any of these statuses.' }),
    },
    complexity: pageComplexity,
    resolve: async (_root, args, ctx, info) => {
      const page = await listOutboundCallJobs(ctx.em, businessIdOf(ctx), args.status, pageRequest(args, info));
      return toConnection(page);
    },
  }),
);

const ScheduleOutboundCallInput = builder.inputType('ScheduleOutboundCallInput', {
  fields: (t) => ({
    leadId: t.id({ required: true, validate: z.uuid('is not a lead id') }),
    at: t.field({ type: 'DateTime', description: 'When to call; now when left out.' }),
    purpose: t.string({
      required: true,
      description: 'Why the agent calls, e.g. "confirm tomorrow’s visit".',
      validate: z.string().trim().min(1, 'must not be empty').max(500, 'must be at most 500 characters'),
    }),
    instructions: t.string({ validate: text(4000) }),
  }),
});

/** How far ahead a call may be scheduled. */
const maxScheduleAheadDays = 365;

builder.mutationFields((t) => ({
  scheduleOutboundCall: t.field({
    type: OutboundCallJobRef,
    authScopes: { supervisor: true },
    description: 'Has the agent call a lead now or at a given time.',
    errors: { types: [FieldValidationError, NotFoundError], directResult: true },
    args: { input: t.arg({ type: ScheduleOutboundCallInput, required: true }) },
    validate: z.object({
      input: z.object({
        at: z
          .date()
          .refine((at) => at.getTime() > Date.now() - 60_000, 'must not be in the past')
          .refine((at) => at.getTime() < Date.now() + maxScheduleAheadDays * 86_400_000, `must be within ${maxScheduleAheadDays} days`)
          .nullish(),
      }).loose(),
    }),
    resolve: (_root, { input }, ctx) =>
      domain(async () => {
        const job = await scheduleOutboundCall(ctx.em, ctx.services.queue, {
          businessId: businessIdOf(ctx),
          leadId: String(input.leadId),
          at: input.at ?? null,
          purpose: input.purpose,
          instructions: input.instructions ?? null,
        });
        publishOutboundJob(ctx.services.bus, job);
        return job;
      }),
  }),
  cancelOutboundCall: t.field({
    type: OutboundCallJobRef,
    authScopes: { supervisor: true },
    description: 'Stops an outbound call job: no further attempt is made.',
    errors: { types: [FieldValidationError, NotFoundError, ConflictError], directResult: true },
    args: { id: t.arg.id({ required: true, validate: z.uuid('is not an outbound call id') }) },
    resolve: (_root, args, ctx) =>
      domain(async () => {
        const job = await cancelOutboundCall(ctx.em, ctx.services.queue, businessIdOf(ctx), String(args.id));
        publishOutboundJob(ctx.services.bus, job);
        return job;
      }),
  }),
}));
