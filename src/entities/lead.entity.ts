import { randomUUID } from 'node:crypto';
import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { Business } from './business.entity.ts';

export const leadStatuses = ['new', 'contacted', 'qualified', 'booked', 'won', 'lost'] as const;
export type LeadStatus = (typeof leadStatuses)[number];

export const genders = ['male', 'female'] as const;
export type Gender = (typeof genders)[number];

/**
 * The phone an erased lead keeps: `#` and 15 hex digits (60 random bits) of its id. Unique
 * per business like a number (the unique key stays), unlike any of the person's, and never
 * E.164, so no call can reach or match it.
 */
export function erasedLeadPhone(leadId: string): string {
  const hex = leadId.replaceAll('-', '');
  // Skip the version digit (position 12 of a v4 UUID), which is always 4.
  return `#${(hex.slice(0, 12) + hex.slice(13)).slice(0, 15)}`;
}

/** A person who called or was called, one per phone number per business. */
export const Lead = defineEntity({
  name: 'Lead',
  tableName: 'leads',
  properties: {
    id: p.uuid().primary().onCreate(() => randomUUID()),
    business: () => p.manyToOne(Business).deleteRule('cascade'),
    /** E.164. */
    phone: p.string().length(16),
    fullName: p.string().nullable(),
    /** Derived once from fullName when it is saved (titles skipped); never re-derived mid-call. */
    firstName: p.string().nullable(),
    /** Chooses the grammatical form in Hebrew greetings; null when unknown. */
    gender: p.enum(genders).nullable(),
    city: p.string().nullable(),
    serviceCategory: p.string().nullable(),
    status: p.enum(leadStatuses).default('new'),
    notes: p.text().nullable(),
    /**
     * When `eraseLead` removed this person's data: the phone is then a placeholder
     * (`erasedLeadPhone`), never a number, and the name, city and notes are null. The row stays
     * so the calls and appointments that point here still count.
     */
    erasedAt: p.datetime().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  },
  uniques: [{ properties: ['business', 'phone'], name: 'leads_business_phone_unique' }],
  indexes: [{ properties: ['business', 'createdAt'], name: 'leads_business_created_at_index' }],
});
export type Lead = InferEntity<typeof Lead>;
