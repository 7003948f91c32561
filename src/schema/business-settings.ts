import { z } from 'zod';
import { isDialingCountry } from '../core/dialable-numbers.ts';
import { extractionFieldTypes, type ExtractionField } from '../entities/business-settings.entity.ts';
import { secretBoxOf } from '../core/secret-box.ts';
import { updateBusinessSettings, type SettingsChanges } from '../entities/business.repository.ts';
import { rotateWebhookSecret } from '../entities/webhook-secret.repository.ts';
import { checkSavedWebhookUrl } from '../core/saved-webhook-url.ts';
import { builder } from './builder.ts';
import { businessIdOf } from './context.ts';
import { enumValues } from './enums.ts';
import { FieldValidationError, domain } from './errors.ts';
import { noNulls, phoneNumber, webhookUrl } from './inputs.ts';
import { BusinessSettingsRef } from './refs.ts';

const ExtractionFieldType = builder.enumType('ExtractionFieldType', {
  description: 'The JSON type of an extracted field’s value in Call.extracted and the webhook.',
  values: enumValues(extractionFieldTypes, {
    string: 'Text (one of `enum` when it is set).',
    number: 'A number.',
    boolean: 'A boolean, true or false.',
    date: 'A date, YYYY-MM-DD.',
  }),
});

const ExtractionFieldRef = builder.objectRef<ExtractionField>('ExtractionField').implement({
  description: 'A field the post-call extraction fills in beyond city and service category.',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'The key in Call.extracted and the webhook (snake_case).' }),
    description: t.exposeString('description', { description: 'What to extract, as told to the model.' }),
    type: t.expose('type', { type: ExtractionFieldType, description: 'The value’s type.' }),
    enum: t.exposeStringList('enum', { nullable: true, description: 'The allowed values, when limited.' }),
  }),
});

/** Voices of the OpenAI Realtime API. */
const voices = ['alloy', 'ash', 'ballad', 'cedar', 'coral', 'echo', 'marin', 'sage', 'shimmer', 'verse'] as const;

BusinessSettingsRef.implement({
  description: 'How the business’s agent behaves and where its results go. The webhook secret is never shown here.',
  authScopes: (settings) => ({ tenant: settings.business }),
  fields: (t) => ({
    agentInstructions: t.exposeString('agentInstructions', { description: 'The business’s own instructions to the voice agent (services, prices, tone), added to Callwatch’s; empty by default.' }),
    greetingTemplate: t.exposeString('greetingTemplate', {
      description: '{firstName} and {businessName} are filled in; {masculine|feminine} picks the form by the caller’s gender.',
    }),
    voice: t.exposeString('voice', { description: 'The OpenAI Realtime voice the agent speaks with (default alloy).' }),
    language: t.exposeString('language', { description: 'ISO 639-1, e.g. he.' }),
    silenceTimeoutSec: t.exposeInt('silenceTimeoutSec', { description: 'Seconds of caller silence before the agent prompts again (default 8).' }),
    silenceReprompts: t.exposeInt('silenceReprompts', { description: 'Prompts after silence before the agent hangs up (endReason "caller silent"); default 2.' }),
    maxCallDurationSec: t.exposeInt('maxCallDurationSec', { description: 'A call is ended after this many seconds (endReason "maximum call duration"); default 900.' }),
    recordCalls: t.exposeBoolean('recordCalls', { description: 'Whether Twilio records calls; the pipeline transcribes the recording (default true).' }),
    // Often capability URLs (a Zapier catch hook accepts whatever is posted to it): only
    // the admins who set them may read them (security review F15).
    inboundWebhookUrl: t.exposeString('inboundWebhookUrl', { nullable: true, authScopes: { admin: true }, description: 'Admin keys only (FORBIDDEN for others): such URLs often work as passwords.' }),
    outboundWebhookUrl: t.exposeString('outboundWebhookUrl', { nullable: true, authScopes: { admin: true }, description: 'Admin keys only (FORBIDDEN for others): such URLs often work as passwords.' }),
    extractionSchema: t.field({ type: [ExtractionFieldRef], description: 'The business’s own fields extracted after each call, besides city and service category.', resolve: (settings) => settings.extractionSchema }),
    transferNumber: t.exposeString('transferNumber', { nullable: true, description: 'Where callers are transferred; always a number the business may dial (see allowedCountries).' }),
    allowedCountries: t.exposeStringList('allowedCountries', {
      description:
        'ISO 3166-1 alpha-2 countries outbound calls, campaigns and transfers may reach; empty: the business’s own country (that of its phone numbers). Premium-rate, shared-cost and personal numbers, and numbers of no country (satellite), are refused whatever it lists.',
    }),
    workingHours: t.expose('workingHours', {
      type: 'JSON',
      description: 'By weekday "0" (Sunday) … "6": [{ open: "09:00", close: "18:00" }], in the business’s time zone.',
    }),
    appointmentSlotMinutes: t.exposeInt('appointmentSlotMinutes', { description: 'Length of an appointment when booked without endsAt (default 30).' }),
    callingHours: t.expose('callingHours', {
      type: 'JSON',
      description: 'When outbound calls may be placed, by weekday like workingHours (close may be "24:00"). Default Sunday–Thursday 09:00–20:00, Friday 09:00–13:00.',
    }),
    callOnHolidays: t.exposeBoolean('callOnHolidays', { description: 'Whether outbound calls may be placed on closed Jewish holidays.' }),
    outboundMaxAttempts: t.exposeInt('outboundMaxAttempts', { description: 'Attempts per outbound call, the first included; no answer, busy and voicemail are tried again.' }),
    outboundRetrySpacingSec: t.exposeInt('outboundRetrySpacingSec', { description: 'Least time between two attempts; a retry outside calling hours moves to the next window.' }),
    outboundMaxConcurrent: t.exposeInt('outboundMaxConcurrent', { description: 'Outbound calls ringing or in progress at once.' }),
    outboundGreetingTemplate: t.exposeString('outboundGreetingTemplate', { description: 'The agent’s first sentence when it calls; the reason for the call follows.' }),
    voicemailMessage: t.exposeString('voicemailMessage', {
      nullable: true,
      description: 'Said, in the business’s language, after the beep when an answering machine picks up an outbound call; null: hang up on machines. Either way the attempt counts as voicemail (no answer).',
    }),
    callDisclosureEnabled: t.exposeBoolean('callDisclosureEnabled', {
      description: 'Whether every call (inbound and outbound) opens with the disclosure: an AI assistant answers, and the call is recorded when recordCalls is on. On by default.',
    }),
    callDisclosure: t.exposeString('callDisclosure', {
      nullable: true,
      description: 'The business’s own wording of the disclosure, said as it is before the greeting (keep it true to recordCalls); null: the default wording for the business’s language.',
    }),
    recordingRetentionDays: t.exposeInt('recordingRetentionDays', {
      description: 'Days a call’s recording is kept after the call (default 30); then the daily retention job deletes it at Twilio and here.',
    }),
    transcriptRetentionDays: t.exposeInt('transcriptRetentionDays', {
      description: 'Days a call’s transcript, summary, extracted fields and timeline are kept (default 365); then the retention job clears them. The call still counts.',
    }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'When the settings last changed.' }),
  }),
});

const ExtractionFieldInput = builder.inputType('ExtractionFieldInput', {
  description: 'A field to extract after each call.',
  fields: (t) => ({
    name: t.string({
      required: true,
      description: 'The key, in snake_case, at most 40 characters; not city or service_category (always extracted).',
      validate: z
        .string()
        .regex(/^[a-z][a-z0-9_]{0,39}$/, 'must be snake_case: a–z, digits and _, at most 40 characters')
        .refine((name) => name !== 'city' && name !== 'service_category', 'city and service_category are always extracted'),
    }),
    description: t.string({ required: true, description: 'What to extract, as told to the model (at most 500 characters).', validate: z.string().trim().min(1, 'must not be empty').max(500) }),
    type: t.field({ type: ExtractionFieldType, required: true, description: 'The value’s type.' }),
    enum: t.stringList({ description: 'Limits a STRING field to these values (1–50).', validate: z.array(z.string().min(1).max(100)).min(1).max(50).nullish() }),
  }),
});

const time = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM (24-hour)');
const hoursOfWeek = (close: z.ZodString) =>
  z.record(
    z.enum(['0', '1', '2', '3', '4', '5', '6'], 'keys must be weekdays "0" (Sunday) … "6"'),
    z.array(z.object({ open: time, close }).refine((range) => range.open < range.close, 'open must be before close')).max(4),
  );
const workingHours = hoursOfWeek(time);
/** Calling windows may run to midnight: close "24:00". */
const callingHours = hoursOfWeek(z.string().regex(/^(([01]\d|2[0-3]):[0-5]\d|24:00)$/, 'must be HH:MM (24-hour) or 24:00')).refine(
  (hours) => Object.values(hours).some((windows) => (windows ?? []).length > 0),
  'must allow calls on at least one day',
);

/** Text that may be cleared: trimmed, at most `max` characters; blank clears it like null. */
const clearableText = (max: number) =>
  z
    .string()
    .trim()
    .max(max, `must be at most ${max} characters`)
    .transform((text) => text || null)
    .nullish();

/** Twilio's `<Say>` reads it: 500 characters is about half a minute, more than most voicemail boxes keep. */
const voicemailMessage = clearableText(500);

/** Said before every greeting: a sentence or two; cleared, the default wording. */
const callDisclosure = clearableText(300);

/** ISO 3166-1 alpha-2 codes (any case), stored upper case, each once; empty: the business's own country. */
const allowedCountries = z
  .array(z.string().trim().toUpperCase().refine(isDialingCountry, 'is not an ISO 3166-1 alpha-2 country code (e.g. IL, US)'))
  .max(50, 'at most 50 countries')
  .transform((codes) => [...new Set(codes)]);

const int = (min: number, max: number) => z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`);

/** Ten years: the longest retention a business may set. */
const maxRetentionDays = 3650;

const UpdateBusinessSettingsInput = builder.inputType('UpdateBusinessSettingsInput', {
  description: 'Fields left out stay as they are; only the webhook URLs, the transfer number, the voicemail message and the call disclosure’s wording can be cleared (null).',
  validate: noNulls([
    'agentInstructions',
    'greetingTemplate',
    'voice',
    'language',
    'silenceTimeoutSec',
    'silenceReprompts',
    'maxCallDurationSec',
    'recordCalls',
    'extractionSchema',
    'workingHours',
    'appointmentSlotMinutes',
    'callingHours',
    'callOnHolidays',
    'outboundMaxAttempts',
    'outboundRetrySpacingSec',
    'outboundMaxConcurrent',
    'outboundGreetingTemplate',
    'callDisclosureEnabled',
    'allowedCountries',
    'recordingRetentionDays',
    'transcriptRetentionDays',
  ]),
  fields: (t) => ({
    agentInstructions: t.string({ description: 'At most 20000 characters.', validate: z.string().max(20_000, 'must be at most 20000 characters') }),
    greetingTemplate: t.string({ description: 'See BusinessSettings.greetingTemplate; 1–500 characters.', validate: z.string().trim().min(1, 'must not be empty').max(500, 'must be at most 500 characters') }),
    voice: t.string({ description: `One of ${voices.join(', ')}.`, validate: z.enum(voices, `must be one of ${voices.join(', ')}`) }),
    language: t.string({ description: 'ISO 639-1 code of the language the agent speaks and summaries are written in.', validate: z.string().regex(/^[a-z]{2}$/, 'must be an ISO 639-1 code such as he or en') }),
    silenceTimeoutSec: t.int({ description: '3–120 seconds.', validate: int(3, 120) }),
    silenceReprompts: t.int({ description: '0–5.', validate: int(0, 5) }),
    maxCallDurationSec: t.int({ description: '60–7200 seconds.', validate: int(60, 7200) }),
    recordCalls: t.boolean({ description: 'Whether Twilio records calls.' }),
    inboundWebhookUrl: t.string({ description: 'Where call.completed goes for inbound calls (an http(s) URL); null stops those webhooks.', validate: webhookUrl }),
    outboundWebhookUrl: t.string({ description: 'Where call.completed goes for outbound calls (an http(s) URL); null stops those webhooks.', validate: webhookUrl }),
    extractionSchema: t.field({ type: [ExtractionFieldInput], description: 'Replaces the whole list (at most 20 fields).', validate: z.array(z.any()).max(20, 'at most 20 fields') }),
    transferNumber: t.string({ description: 'Where callers are transferred, any common format; null: no transfers.', validate: phoneNumber.nullish() }),
    allowedCountries: t.stringList({ validate: allowedCountries, description: 'ISO 3166-1 alpha-2 codes, e.g. ["IL", "US"]; empty: the business’s own country.' }),
    workingHours: t.field({ type: 'JSON', description: 'As BusinessSettings.workingHours; at most 4 ranges a day.', validate: workingHours }),
    appointmentSlotMinutes: t.int({ description: '5–480 minutes.', validate: int(5, 480) }),
    callingHours: t.field({ type: 'JSON', description: 'As BusinessSettings.callingHours; must allow calls on at least one day.', validate: callingHours }),
    callOnHolidays: t.boolean({ description: 'Whether outbound calls may be placed on closed Jewish holidays.' }),
    outboundMaxAttempts: t.int({ description: '1–10.', validate: int(1, 10) }),
    outboundRetrySpacingSec: t.int({ description: '60 seconds to 7 days.', validate: int(60, 7 * 86_400) }),
    outboundMaxConcurrent: t.int({ description: '1–100.', validate: int(1, 100) }),
    outboundGreetingTemplate: t.string({ description: '1–500 characters; the same placeholders as greetingTemplate.', validate: z.string().trim().min(1, 'must not be empty').max(500, 'must be at most 500 characters') }),
    voicemailMessage: t.string({ description: 'At most 500 characters; null or blank: hang up on answering machines.', validate: voicemailMessage }),
    callDisclosureEnabled: t.boolean({ description: 'Whether every call opens with the disclosure.' }),
    callDisclosure: t.string({ description: 'At most 300 characters; null or blank: the default wording.', validate: callDisclosure }),
    recordingRetentionDays: t.int({ description: `1–${maxRetentionDays} days.`, validate: int(1, maxRetentionDays) }),
    transcriptRetentionDays: t.int({ description: `1–${maxRetentionDays} days.`, validate: int(1, maxRetentionDays) }),
  }),
});

const RotateWebhookSecretPayload = builder
  .objectRef<{ settings: typeof BusinessSettingsRef.$inferType; secret: string }>('RotateWebhookSecretPayload')
  .implement({
    description: 'The settings after the rotation and, once only, the new secret.',
    fields: (t) => ({
      settings: t.field({ type: BusinessSettingsRef, description: 'The business’s settings.', resolve: (payload) => payload.settings }),
      webhookSecret: t.exposeString('secret', { description: 'The new signing secret (whsec_…). Shown only here: store it now.' }),
    }),
  });

builder.mutationFields((t) => ({
  updateBusinessSettings: t.field({
    type: BusinessSettingsRef,
    authScopes: { admin: true },
    description: 'Admins only: changes the business’s settings. Calls starting from now on use them.',
    errors: { types: [FieldValidationError], directResult: true },
    args: { input: t.arg({ type: UpdateBusinessSettingsInput, required: true, description: 'The settings to change.' }) },
    // GraphQL types every optional input field as nullable; noNulls (above) has refused
    // null wherever the column cannot hold one.
    resolve: (_root, { input }, ctx) =>
      domain(async () => {
        for (const field of ['inboundWebhookUrl', 'outboundWebhookUrl'] as const) {
          const url = input[field];
          if (url) await checkSavedWebhookUrl(ctx.services.config, `input.${field}`, url);
        }
        const settings = await updateBusinessSettings(ctx.em, businessIdOf(ctx), input as SettingsChanges);
        // Calls answered from the routing cache (Postgres unreachable) get the new settings too.
        ctx.services.bus.publish('business:routing', { businessId: businessIdOf(ctx) });
        return settings;
      }),
  }),
  rotateWebhookSecret: t.field({
    type: RotateWebhookSecretPayload,
    authScopes: { admin: true },
    description: 'Replaces the webhook signing secret; deliveries from now on are signed with the new one.',
    resolve: (_root, _args, ctx) => rotateWebhookSecret(ctx.em, businessIdOf(ctx), secretBoxOf(ctx.services.config)),
  }),
}));
