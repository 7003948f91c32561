import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { Business } from './business.entity.ts';

/**
 * A phone number a business answers on. Inbound calls are routed by Twilio's `To`: the
 * number is the primary key, so one number belongs to exactly one business and the lookup
 * at call start is a single index probe. (DESIGN.md lists phone numbers on Business; a
 * table of their own is what makes "one number, one business" a database guarantee.)
 */
export const PhoneNumber = defineEntity({
  name: 'PhoneNumber',
  tableName: 'phone_numbers',
  properties: {
    /** E.164, e.g. +97231234567. */
    e164: p.string().length(16).primary(),
    business: () => p.manyToOne(Business).deleteRule('cascade').index(),
    label: p.string().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});
export type PhoneNumber = InferEntity<typeof PhoneNumber>;
