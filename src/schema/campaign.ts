import { z } from 'zod';
import { campaignStatuses } from '../entities/campaign.entity.ts';
import { campaignJobs, cancelCampaign, createCampaign, findCampaign, maxCampaignLeads } from '../entities/campaign.repository.ts';
import { publishOutboundJob } from '../entities/outbound-attempt.repository.ts';
import { builder } from './builder.ts';
import { businessIdOf } from './context.ts';
import { enumValues } from './enums.ts';
import { FieldValidationError, NotFoundError, domain } from './errors.ts';
import { text } from './inputs.ts';
import { LeadFilter } from './lead.ts';
import { NodeRef } from './node.ts';
import { CampaignRef, OutboundCallJobRef } from './refs.ts';

const CampaignStatus = builder.enumType('CampaignStatus', { values: enumValues(campaignStatuses) });

CampaignRef.implement({
  interfaces: [NodeRef],
  description: 'Leads the agent calls for one purpose within a window: one outbound call job per lead.',
  authScopes: (campaign) => ({ tenant: campaign.business }),
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    purpose: t.exposeString('purpose'),
    instructions: t.exposeString('instructions', { nullable: true }),
    windowStart: t.expose('windowStart', { type: 'DateTime' }),
    windowEnd: t.expose('windowEnd', { type: 'DateTime', nullable: true }),
    status: t.expose('status', { type: CampaignStatus }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    jobs: t.field({
      type: [OutboundCallJobRef],
      description: `Its outbound call jobs, one per lead (at most ${maxCampaignLeads}).`,
      complexity: 50,
      resolve: (campaign, _args, ctx) => campaignJobs(ctx.em, campaign.id),
    }),
  }),
});

const CampaignWindowInput = builder.inputType('CampaignWindowInput', {
  fields: (t) => ({
    from: t.field({ type: 'DateTime', description: 'Calls start then; now when left out.' }),
    to: t.field({ type: 'DateTime', description: 'No attempt starts after this.' }),
  }),
});

const CreateCampaignInput = builder.inputType('CreateCampaignInput', {
  description: 'The leads to call: `leadIds`, or every lead matching `filter`.',
  fields: (t) => ({
    name: t.string({ required: true, validate: z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters') }),
    purpose: t.string({ required: true, validate: z.string().trim().min(1, 'must not be empty').max(500, 'must be at most 500 characters') }),
    instructions: t.string({ validate: text(4000) }),
    leadIds: t.idList({ validate: z.array(z.uuid('is not a lead id')).min(1, 'must name a lead').max(maxCampaignLeads, `at most ${maxCampaignLeads} leads`).nullish() }),
    filter: t.field({ type: LeadFilter }),
    window: t.field({ type: CampaignWindowInput }),
  }),
});

builder.queryField('campaign', (t) =>
  t.field({
    type: CampaignRef,
    nullable: true,
    authScopes: { reader: true },
    description: 'A campaign by id; null when this business has none with that id.',
    args: { id: t.arg.id({ required: true, validate: z.uuid('is not a campaign id') }) },
    resolve: (_root, args, ctx) => findCampaign(ctx.em, businessIdOf(ctx), String(args.id)).then((row) => row ?? null),
  }),
);

builder.mutationFields((t) => ({
  createCampaign: t.field({
    type: CampaignRef,
    authScopes: { supervisor: true },
    description: 'Has the agent call a list of leads (by id or by filter) for one purpose, within a window, by the business’s calling hours, retry policy and line limit.',
    errors: { types: [FieldValidationError, NotFoundError], directResult: true },
    args: { input: t.arg({ type: CreateCampaignInput, required: true }) },
    validate: z.object({
      input: z
        .object({ window: z.object({ from: z.date().nullish(), to: z.date().nullish() }).nullish() })
        .loose()
        .refine((input) => !input.window?.from || !input.window.to || input.window.from < input.window.to, { message: 'from must be before to', path: ['window', 'to'] })
        .refine((input) => !input.window?.to || input.window.to.getTime() > Date.now(), { message: 'must be in the future', path: ['window', 'to'] }),
    }),
    resolve: (_root, { input }, ctx) =>
      domain(async () => {
        const { campaign, jobs } = await createCampaign(ctx.em, ctx.services.queue, {
          businessId: businessIdOf(ctx),
          name: input.name,
          purpose: input.purpose,
          instructions: input.instructions ?? null,
          leadIds: input.leadIds?.map(String) ?? null,
          filter: input.filter ? { ...input.filter, search: input.filter.search ?? null } : null,
          window: { from: input.window?.from ?? null, to: input.window?.to ?? null },
        });
        for (const job of jobs) publishOutboundJob(ctx.services.bus, job);
        return campaign;
      }),
  }),
  cancelCampaign: t.field({
    type: CampaignRef,
    authScopes: { supervisor: true },
    description: 'Stops a campaign: no further attempt is made, and its calls still ringing or in progress are hung up.',
    errors: { types: [FieldValidationError, NotFoundError], directResult: true },
    args: { id: t.arg.id({ required: true, validate: z.uuid('is not a campaign id') }) },
    resolve: (_root, args, ctx) =>
      domain(async () => {
        const { campaign, canceled } = await cancelCampaign(ctx.em, ctx.services.queue, businessIdOf(ctx), String(args.id));
        for (const job of canceled) publishOutboundJob(ctx.services.bus, job);
        return campaign;
      }),
  }),
}));
