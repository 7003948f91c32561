import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

/**
 * The dialer's global pace: one row whose `nextSlotAt` is the next instant a call may be
 * placed. Each dialer reserves a slot by moving it on in one UPDATE, so every worker
 * process shares one calls-per-second budget (Twilio's limit is per account).
 */
export const DialerPace = defineEntity({
  name: 'DialerPace',
  tableName: 'dialer_pace',
  properties: {
    id: p.integer().primary().autoincrement(false),
    nextSlotAt: p.datetime(),
  },
});
export type DialerPace = InferEntity<typeof DialerPace>;
