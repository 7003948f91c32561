import { z } from 'zod';
import { campaignStatuses } from '../entities/campaign.entity.ts';
import { campaignJobs, cancelCampaign, createCampaign, findCampaign, maxCampaignLeads } from '../dialer/campaigns.ts';
import { publishOutboundJob } from '../dialer/settlement.ts';
import { builder } from './builder.ts';
import { businessIdOf } from './context.ts';
import { enumValues } from './enums.ts';
import { FieldValidationError, NotFoundError, domain } from './errors.ts';
import { text } from './inputs.ts';
import { LeadFilter } from './lead.ts';
import { NodeRef } from './node.ts';
import { CampaignRef, OutboundCallJobRef } from './refs.ts';

const CampaignStatus = builder.enumType('CampaignStatus', {
  description: 'Whether a campaign still calls. Its jobs carry each lead’s progress.',
  values: enumValues(campaignStatuses, { active: 'Its jobs call within the window.', canceled: 'Stopped by cancelCampaign: no further attempt.' }),
});

CampaignRef.implement({
  interfaces: [NodeRef],
  description: 'Leads the agent calls for one purpose within a window: one outbound call job per lead.',
  authScopes: (campaign) => ({ tenant: campaign.business }),
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The campaign’s id.' }),
    name: t.exposeString('name', { description: 'A label for people; the agent does not say it.' }),
    purpose: t.exposeString('purpose', { description: 'Why the agent calls; each job’s purpose.' }),
    instructions: t.exposeString('instructions', { nullable: true, description: 'Extra instructions to the agent on each call; null when none.' }),
    windowStart: t.expose('windowStart', { type: 'DateTime', description: 'No attempt starts before this.' }),
    windowEnd: t.expose('windowEnd', { type: 'DateTime', nullable: true, description: 'No attempt starts after this; null: no end.' }),
    status: t.expose('status', { type: CampaignStatus, description: 'Whether it still calls.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was created.' }),
    jobs: t.field({
      type: [OutboundCallJobRef],
      description: `Its outbound call jobs, one per lead (at most ${maxCampaignLeads}).`,
      complexity: 50,
      resolve: (campaign, _args, ctx) => campaignJobs(ctx.em, campaign.id),
    }),
  }),
});

const CampaignWindowInput = builder.inputType('CampaignWindowInput', {
  description: 'When the campaign may call, within the business’s calling hours.',
  fields: (t) => ({
    from: t.field({ type: 'DateTime', description: 'Calls start then; now when left out.' }),
    to: t.field({ type: 'DateTime', description: 'No attempt starts after this.' }),
  }),
});

const CreateCampaignInput = builder.inputType('CreateCampaignInput', {
  description: 'The leads to call: `leadIds`, or every lead matching `filter`.',
  fields: (t) => ({
    name: t.string({ required: true, description: 'A label for people, 1–200 characters.', validate: z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters') }),
    purpose: t.string({ required: true, description: 'Why the agent calls, 1–500 characters.', validate: z.string().trim().min(1, 'must not be empty').max(500, 'must be at most 500 characters') }),
    instructions: t.string({ description: 'Extra instructions to the agent, at most 4000 characters.', validate: text(4000) }),
    leadIds: t.idList({ description: `The leads to call (1–${maxCampaignLeads}).`, validate: z.array(z.uuid('is not a lead id')).min(1, 'must name a lead').max(maxCampaignLeads, `at most ${maxCampaignLeads} leads`).nullish() }),
    filter: t.field({ type: LeadFilter, description: 'Call every lead matching it (when leadIds is left out).' }),
    window: t.field({ type: CampaignWindowInput, description: 'When to call; from now, with no end, when left out.' }),
  }),
});

builder.queryField('campaign', (t) =>
  t.field({
    type: CampaignRef,
    nullable: true,
    authScopes: { reader: true },
    description: 'A campaign by id; null when this business has none with that id.',
    args: { id: t.arg.id({ required: true, description: 'The Campaign.id.', validate: z.uuid('is not a campaign id') }) },
    resolve: (_root, args, ctx) => findCampaign(ctx.em, businessIdOf(ctx), String(args.id)).then((row) => row ?? null),
  }),
);

builder.mutationFields((t) => ({
  createCampaign: t.field({
    type: CampaignRef,
    authScopes: { supervisor: true },
    description: 'Has the agent call a list of leads (by id or by filter) for one purpose, within a window, by the business’s calling hours, retry policy and line limit.',
    errors: { types: [FieldValidationError, NotFoundError], directResult: true },
    args: { input: t.arg({ type: CreateCampaignInput, required: true, description: 'The campaign: its leads, purpose and window.' }) },
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
    args: { id: t.arg.id({ required: true, description: 'The campaign to stop.', validate: z.uuid('is not a campaign id') }) },
    resolve: (_root, args, ctx) =>
      domain(async () => {
        const { campaign, canceled } = await cancelCampaign(ctx.em, ctx.services.queue, businessIdOf(ctx), String(args.id));
        for (const job of canceled) publishOutboundJob(ctx.services.bus, job);
        return campaign;
      }),
  }),
}));
