import { randomUUID } from 'node:crypto';
import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { Business } from './business.entity.ts';
import { Campaign } from './campaign.entity.ts';
import { Lead } from './lead.entity.ts';

export const outboundJobStatuses = [
  'queued',
  'dialing',
  'in-progress',
  'completed',
  'no-answer',
  'busy',
  'failed',
  'canceled',
] as const;
export type OutboundJobStatus = (typeof outboundJobStatuses)[number];

/** How an attempt ended: a conversation, or one of the ways of not reaching the lead. */
export const attemptOutcomes = ['answered', 'no-answer', 'busy', 'voicemail', 'failed'] as const;
export type AttemptOutcome = (typeof attemptOutcomes)[number];

/** Statuses after which a job never calls again. */
export const finishedOutboundStatuses: readonly OutboundJobStatus[] = ['completed', 'no-answer', 'busy', 'failed', 'canceled'];

/**
 * A call the agent places to a lead, with why it calls. The latest attempt's Call row
 * points back here (Call.outboundJob); `lastCallSid` names it without a join.
 */
export const OutboundCallJob = defineEntity({
  name: 'OutboundCallJob',
  tableName: 'outbound_call_jobs',
  properties: {
    id: p.uuid().primary().onCreate(() => randomUUID()),
    business: () => p.manyToOne(Business).deleteRule('cascade'),
    lead: () => p.manyToOne(Lead).deleteRule('cascade').index(),
    campaign: () => p.manyToOne(Campaign).nullable().deleteRule('cascade').index(),
    purpose: p.text(),
    instructions: p.text().nullable(),
    /** When the next attempt is due (the first, or a retry). */
    scheduledAt: p.datetime(),
    /** No attempt starts after this (a campaign's window). */
    notAfter: p.datetime().nullable(),
    attempts: p.integer().default(0),
    status: p.enum(outboundJobStatuses).default('queued'),
    lastOutcome: p.enum(attemptOutcomes).nullable(),
    lastError: p.text().nullable(),
    lastCallSid: p.string().length(34).nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  },
  indexes: [{ properties: ['business', 'status', 'scheduledAt'], name: 'outbound_call_jobs_business_status_index' }],
});
export type OutboundCallJob = InferEntity<typeof OutboundCallJob>;
