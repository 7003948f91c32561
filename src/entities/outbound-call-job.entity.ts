import { randomUUID } from 'node:crypto';
import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { Business } from './business.entity.ts';
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
    purpose: p.text(),
    instructions: p.text().nullable(),
    scheduledAt: p.datetime(),
    attempts: p.integer().default(0),
    status: p.enum(outboundJobStatuses).default('queued'),
    lastError: p.text().nullable(),
    lastCallSid: p.string().length(34).nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  },
  indexes: [{ properties: ['business', 'status', 'scheduledAt'], name: 'outbound_call_jobs_business_status_index' }],
});
export type OutboundCallJob = InferEntity<typeof OutboundCallJob>;
