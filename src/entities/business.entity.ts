import { randomUUID } from 'node:crypto';
import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

/** A tenant: one small business whose calls Callwatch answers and places. */
export const Business = defineEntity({
  name: 'Business',
  tableName: 'businesses',
  properties: {
    id: p.uuid().primary().onCreate(() => randomUUID()),
    name: p.string(),
    /** IANA time zone for business hours, calling windows and dates shown to people. */
    timezone: p.string().default('Asia/Jerusalem'),
    /** BCP 47 locale of the business's callers and staff. */
    locale: p.string().default('he-IL'),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  },
});
export type Business = InferEntity<typeof Business>;
