import { randomUUID } from 'node:crypto';
import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { Business } from './business.entity.ts';

export const campaignStatuses = ['active', 'canceled'] as const;

/**
 * A list of leads the agent calls for one purpose, within a window. Each lead is an
 * OutboundCallJob of the campaign; canceling the campaign cancels every job not finished.
 */
export const Campaign = defineEntity({
  name: 'Campaign',
  tableName: 'campaigns',
  properties: {
    id: p.uuid().primary().onCreate(() => randomUUID()),
    business: () => p.manyToOne(Business).deleteRule('cascade'),
    name: p.string(),
    purpose: p.text(),
    instructions: p.text().nullable(),
    windowStart: p.datetime(),
    windowEnd: p.datetime().nullable(),
    status: p.enum(campaignStatuses).default('active'),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  },
  indexes: [{ properties: ['business', 'createdAt'], name: 'campaigns_business_created_at_index' }],
});
export type Campaign = InferEntity<typeof Campaign>;
