import { z } from 'zod';
import { attemptOutcomes, outboundJobStatuses } from '../entities/outbound-call-job.entity.ts';
import { publishOutboundJob } from '../dialer/settlement.ts';
import { cancelOutboundCall, listOutboundCallJobs, scheduleOutboundCall } from '../dialer/outbound-call-jobs.ts';
import { builder } from './builder.ts';
import { businessIdOf } from './context.ts';
import { enumValues } from './enums.ts';
import { ConflictError, FieldValidationError, NotFoundError, domain } from './errors.ts';
import { text } from './inputs.ts';
import { NodeRef } from './node.ts';
import { connectionOf, pageArguments, pageComplexity, pageRequest, toConnection } from './pagination.ts';
import { CallRef, CampaignRef, LeadRef, OutboundCallJobRef } from './refs.ts';

export const OutboundCallJobStatus = builder.enumType('OutboundCallJobStatus', {
  description: 'Where an outbound call job stands. COMPLETED, NO_ANSWER, BUSY, FAILED and CANCELED are final: no further attempt.',
  values: enumValues(outboundJobStatuses, {
    queued: 'Waiting for its first attempt or a retry (see scheduledAt).',
    dialing: 'An attempt is being placed and rings.',
    'in-progress': 'The lead answered; the agent is on the call.',
    completed: 'The agent spoke with the lead.',
    'no-answer': 'The last attempt went unanswered or reached voicemail, and none is left (attempts used up, or the window closed).',
    busy: 'The last attempt found the line busy, and none is left.',
    failed: 'The last attempt could not be placed, or the lead’s number may not be dialled (see lastError).',
    canceled: 'Stopped by cancelOutboundCall, cancelCampaign or eraseLead, or the campaign’s window closed before any attempt.',
  }),
});
const AttemptOutcome = builder.enumType('AttemptOutcome', {
  values: enumValues(attemptOutcomes, {
    answered: 'A person answered and the agent talked.',
    'no-answer': 'Nobody answered.',
    busy: 'The line was busy.',
    voicemail: 'An answering machine picked up (counts as no answer).',
    failed: 'The call could not be placed.',
  }),
  description: 'How an attempt ended.',
});

OutboundCallJobRef.implement({
  interfaces: [NodeRef],
  description: 'A call the agent places to a lead, and why.',
  authScopes: (job) => ({ tenant: job.business }),
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The job’s id.' }),
    purpose: t.exposeString('purpose', { description: 'Why the agent calls; the agent says it after the greeting.' }),
    instructions: t.exposeString('instructions', { nullable: true, description: 'Extra instructions to the agent for this call; null when none.' }),
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
      description: 'The campaign it belongs to; null for a single scheduled call.',
      resolve: (job, _args, ctx) => (job.campaign ? ctx.loaders.campaignById.load(job.campaign) : null),
    }),
    lastCallSid: t.exposeString('lastCallSid', { nullable: true, description: 'Twilio’s call SID of the latest attempt; null before the first.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the call was scheduled.' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'When the job last changed.' }),
    lead: t.field({ type: LeadRef, nullable: true, description: 'Who is called.', resolve: (job, _args, ctx) => ctx.loaders.leadById.load(job.lead) }),
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
  description: 'Who to call, when and why.',
  fields: (t) => ({
    leadId: t.id({ required: true, description: 'The lead to call.', validate: z.uuid('is not a lead id') }),
    at: t.field({ type: 'DateTime', description: 'When to call; now when left out.' }),
    purpose: t.string({
      required: true,
      description: 'Why the agent calls, e.g. "confirm tomorrow’s visit".',
      validate: z.string().trim().min(1, 'must not be empty').max(500, 'must be at most 500 characters'),
    }),
    instructions: t.string({ description: 'Extra instructions to the agent for this call, at most 4000 characters.', validate: text(4000) }),
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
    args: { input: t.arg({ type: ScheduleOutboundCallInput, required: true, description: 'Who to call, when and why.' }) },
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
    args: { id: t.arg.id({ required: true, description: 'The OutboundCallJob.id.', validate: z.uuid('is not an outbound call id') }) },
    resolve: (_root, args, ctx) =>
      domain(async () => {
        const job = await cancelOutboundCall(ctx.em, ctx.services.queue, businessIdOf(ctx), String(args.id));
        publishOutboundJob(ctx.services.bus, job);
        return job;
      }),
  }),
}));
