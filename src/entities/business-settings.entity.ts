import { randomBytes } from 'node:crypto';
import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import type { WorkingHours } from '../core/business-hours.ts';
import { Business } from './business.entity.ts';

export const extractionFieldTypes = ['string', 'number', 'boolean', 'date'] as const;

/** A field the post-call extraction adds beyond city and service category. */
export interface ExtractionField {
  name: string;
  description: string;
  type: (typeof extractionFieldTypes)[number];
  enum?: string[];
}

export type { WorkingHours };

/** When outbound calls may be placed (dialer/calling-hours.ts): calling windows per weekday (0 = Sunday), "HH:MM" wall-clock times; same shape as opening hours. */
export type CallingHours = WorkingHours;

/** Sunday–Thursday 09:00–20:00, Friday 09:00–13:00, no Saturday. */
export const DEFAULT_CALLING_HOURS: CallingHours = {
  '0': [{ open: '09:00', close: '20:00' }],
  '1': [{ open: '09:00', close: '20:00' }],
  '2': [{ open: '09:00', close: '20:00' }],
  '3': [{ open: '09:00', close: '20:00' }],
  '4': [{ open: '09:00', close: '20:00' }],
  '5': [{ open: '09:00', close: '13:00' }],
};

/** How often an unanswered (no-answer, busy, voicemail) call is tried, and how far apart. */
export interface RetryPolicy {
  /** Attempts in all, the first call included. */
  maxAttempts: number;
  /** Minimum time from one attempt to the next; the next may be later, in the next window. */
  spacingMinutes: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 3, spacingMinutes: 60 };

/** Israeli default: Sunday–Thursday 09:00–18:00, Friday 09:00–13:00, closed on Saturday. */
export const defaultWorkingHours: WorkingHours = {
  '0': [{ open: '09:00', close: '18:00' }],
  '1': [{ open: '09:00', close: '18:00' }],
  '2': [{ open: '09:00', close: '18:00' }],
  '3': [{ open: '09:00', close: '18:00' }],
  '4': [{ open: '09:00', close: '18:00' }],
  '5': [{ open: '09:00', close: '13:00' }],
};

/** Recordings are deleted this many days after their call unless the business says otherwise. */
export const DEFAULT_RECORDING_RETENTION_DAYS = 30;
/** Transcripts, summaries, extracted fields and timelines are cleared this many days after their call by default. */
export const DEFAULT_TRANSCRIPT_RETENTION_DAYS = 365;

/** A new Standard Webhooks signing secret (`whsec_` + base64 of 32 random bytes). */
export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/** How a business's agent behaves and where its results go. One row per business. */
export const BusinessSettings = defineEntity({
  name: 'BusinessSettings',
  tableName: 'business_settings',
  properties: {
    business: () => p.oneToOne(Business).owner().primary().deleteRule('cascade'),
    agentInstructions: p.text().default(''),
    /**
     * The agent's first sentence. `{firstName}` and `{businessName}` are filled in;
     * `{masculine|feminine}` picks the form by the caller's gender (masculine when unknown).
     */
    greetingTemplate: p.text().default('שלום {firstName}, {ברוך הבא|ברוכה הבאה} ל{businessName}. במה אפשר לעזור?'),
    voice: p.string().default('alloy'),
    /** ISO 639-1 language of the conversation, the transcription hint and the summary. */
    language: p.string().length(8).default('he'),
    silenceTimeoutSec: p.integer().default(8),
    silenceReprompts: p.integer().default(2),
    maxCallDurationSec: p.integer().default(900),
    recordCalls: p.boolean().default(true),
    inboundWebhookUrl: p.text().nullable(),
    outboundWebhookUrl: p.text().nullable(),
    /**
     * The Standard Webhooks signing secret, sealed (src/core/secret-box.ts, bound to the
     * business id): never plaintext at rest. Null until first needed — inserts cannot seal
     * without APP_SECRET; webhook-secret.repository.ts issues one on rotation or first delivery.
     */
    webhookSecret: p.string().nullable().hidden(),
    extractionSchema: p.json<ExtractionField[]>().onCreate(() => []),
    /** E.164 number a caller is transferred to when they ask for a person. */
    transferNumber: p.string().length(16).nullable(),
    /**
     * ISO 3166-1 alpha-2 countries outbound calls, campaigns and transfers may reach; empty:
     * the business's own country (core/dialable-numbers.ts). Premium-rate and shared-cost
     * numbers are refused whatever this lists.
     */
    allowedCountries: p.array().default([]),
    workingHours: p.json<WorkingHours>().onCreate(() => structuredClone(defaultWorkingHours)),
    appointmentSlotMinutes: p.integer().default(30),
    /** When the agent may place outbound calls, in the business's zone (default Sun–Thu 09–20, Fri 09–13). */
    callingHours: p.json<CallingHours>().onCreate(() => structuredClone(DEFAULT_CALLING_HOURS)),
    /** Whether outbound calls may be placed on closed Jewish holidays. */
    callOnHolidays: p.boolean().default(false),
    /** Attempts per outbound call, the first included: no answer, busy and voicemail are tried again. */
    outboundMaxAttempts: p.integer().default(DEFAULT_RETRY_POLICY.maxAttempts),
    /** Least time between two attempts of one outbound call. */
    outboundRetrySpacingSec: p.integer().default(DEFAULT_RETRY_POLICY.spacingMinutes * 60),
    /** Outbound calls of this business ringing or in progress at once, across every worker. */
    outboundMaxConcurrent: p.integer().default(2),
    /** The agent's first sentence on an outbound call; the same placeholders as `greetingTemplate`. The reason for the call follows it. */
    outboundGreetingTemplate: p.text().default('שלום {firstName}, מדברים מ{businessName}.'),
    /**
     * Left on an answering machine that picks up an outbound call, after its beep, in the
     * business's language; null: hang up on machines. Outbound calls wait for the end of the
     * machine's greeting only when it is set (AMD `DetectMessageEnd`).
     */
    voicemailMessage: p.text().nullable(),
    /**
     * Whether calls open with the disclosure (AI assistant; recorded, when `recordCalls`).
     * On by default: the law that requires it is the business's, not an option of ours.
     */
    callDisclosureEnabled: p.boolean().default(true),
    /** The business's own wording of the disclosure, said as it is; null: the default wording for its language. */
    callDisclosure: p.text().nullable(),
    /** Days a call's recording is kept (at Twilio and here) after the call; then the retention job deletes it. */
    recordingRetentionDays: p.integer().default(DEFAULT_RECORDING_RETENTION_DAYS),
    /** Days a call's transcript, summary, extracted fields and timeline are kept; then the retention job clears them. */
    transcriptRetentionDays: p.integer().default(DEFAULT_TRANSCRIPT_RETENTION_DAYS),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  },
});
export type BusinessSettings = InferEntity<typeof BusinessSettings>;
