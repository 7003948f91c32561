import { z } from 'zod';
import {
  callDirections,
  callStatuses,
  pipelineStatuses,
  pipelineStepOutcomes,
  pipelineSteps,
  type PipelineStep,
  type PipelineStepState,
} from '../entities/call.entity.ts';
import { findCallBySid, listCalls } from '../entities/call.repository.ts';
import { speakers, type TranscriptTurn } from '../core/events.ts';
import { reprocessCall } from '../workers/pipeline/reprocess.ts';
import { builder } from './builder.ts';
import { businessIdOf, ownRow } from './context.ts';
import { ConflictError, FieldValidationError, NotFoundError, domain } from './errors.ts';
import { enumValues } from './enums.ts';
import { connectionOf, pageArguments, pageComplexity, pageRequest, toConnection } from './pagination.ts';
import { AppointmentRef, CallRef, LeadRef, OutboundCallJobRef, WebhookDeliveryRef } from './refs.ts';
import { visibleEvent } from './supervisor-visibility.ts';
import { CallLatencyRef, CallUsageRef } from './call-usage.ts';

export const CallDirection = builder.enumType('CallDirection', { values: enumValues(callDirections) });
export const CallStatus = builder.enumType('CallStatus', { description: 'Twilio’s call status.', values: enumValues(callStatuses) });
const PipelineStatus = builder.enumType('PipelineStatus', {
  description: 'PENDING: not started. RUNNING: steps under way. COMPLETED: every step done or skipped. FAILED: finished with at least one failed step (see pipelineSteps); the webhook still went out, with null for what is missing.',
  values: enumValues(pipelineStatuses),
});
const PipelineStepName = builder.enumType('PipelineStepName', { values: enumValues(pipelineSteps) });
const PipelineStepOutcome = builder.enumType('PipelineStepOutcome', { values: enumValues(pipelineStepOutcomes) });
const Speaker = builder.enumType('Speaker', { values: enumValues(speakers) });

const TranscriptTurnRef = builder.objectRef<TranscriptTurn>('TranscriptTurn').implement({
  description: 'One utterance as heard during the call.',
  fields: (t) => ({
    speaker: t.expose('speaker', { type: Speaker }),
    text: t.exposeString('text'),
    at: t.field({ type: 'DateTime', resolve: (turn) => new Date(turn.at) }),
    interrupted: t.boolean({ description: 'An agent turn the caller talked over.', resolve: (turn) => turn.interrupted ?? false }),
    inaudible: t.boolean({ description: 'A caller turn whose words could not be transcribed live; its text is `[inaudible]`.', resolve: (turn) => turn.inaudible ?? false }),
  }),
});

const PipelineStepRef = builder.objectRef<PipelineStepState & { step: PipelineStep }>('PipelineStep').implement({
  description: 'A finished step of the post-call pipeline. A failed step leaves its result null and the pipeline goes on.',
  fields: (t) => ({
    step: t.expose('step', { type: PipelineStepName }),
    outcome: t.expose('status', { type: PipelineStepOutcome }),
    at: t.field({ type: 'DateTime', resolve: (step) => new Date(step.at) }),
    error: t.exposeString('error', { nullable: true, description: 'Why the step failed (outcome failed).' }),
    reason: t.exposeString('reason', { nullable: true, description: 'Why the step had nothing to do (outcome skipped).' }),
  }),
});

CallRef.implement({
  description: 'One phone call, filled in during and after the call.',
  authScopes: (call) => ({ tenant: call.business }),
  fields: (t) => ({
    id: t.exposeID('id'),
    callSid: t.exposeString('callSid', { description: 'Twilio’s call SID.' }),
    direction: t.expose('direction', { type: CallDirection }),
    status: t.expose('status', { type: CallStatus }),
    fromNumber: t.exposeString('fromNumber'),
    toNumber: t.exposeString('toNumber'),
    startedAt: t.expose('startedAt', { type: 'DateTime', nullable: true }),
    endedAt: t.expose('endedAt', { type: 'DateTime', nullable: true }),
    durationSec: t.exposeInt('durationSec', { nullable: true }),
    recordingUrl: t.exposeString('recordingUrl', { nullable: true }),
    recordingDeletedAt: t.expose('recordingDeletedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When the recording was deleted, at Twilio and here (retention, or eraseLead); null while kept or when there was none.',
    }),
    contentDeletedAt: t.expose('contentDeletedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When the transcript, summary, extracted fields and timeline were cleared (retention, or eraseLead); the call still counts.',
    }),
    transcript: t.field({
      type: [TranscriptTurnRef],
      description: 'The conversation as it happened (realtime transcription).',
      resolve: (call) => call.transcriptTurns,
    }),
    finalTranscript: t.exposeString('finalTranscript', { nullable: true, description: 'From the recording, after the call.' }),
    endReason: t.exposeString('endReason', {
      nullable: true,
      description:
        'Why the call ended: "caller hung up", "caller silent", "maximum call duration", "transferred", "transfer failed", "hung up by a supervisor", "transferred by a supervisor", "voice agent unavailable: …", "media stream lost", "server shutting down", "context unavailable", "internal error", or the agent’s own words from end_call. Null while the call is live, or when Callwatch could not write its end (Twilio’s final status then still sets endedAt).',
    }),
    timeline: t.field({
      type: 'JSON',
      deprecationReason: 'Use `events`, the same timeline typed.',
      description: 'What the agent did during the call, in order: tool calls and results, captured lead details, reprompts, the caller’s key presses, hand-overs, supervisors’ actions, failures (each with `type` and `at`). For viewer keys a `supervisor.action` has no whisper text (`detail`) and no `apiKeyId` (null).',
      resolve: (call, _args, ctx) => call.timeline.map((event) => visibleEvent(ctx, event)),
    }),
    summary: t.exposeString('summary', { nullable: true }),
    city: t.exposeString('extractedCity', { nullable: true }),
    serviceCategory: t.exposeString('extractedService', { nullable: true }),
    extracted: t.expose('extracted', { type: 'JSON', nullable: true, description: 'Fields of the business’s extraction schema; null = not found.' }),
    latency: t.expose('latency', { type: CallLatencyRef, nullable: true, description: 'How long the caller waited for the agent. Null while the call is live, and for calls no session ended or ended before it was measured.' }),
    usage: t.expose('usage', { type: CallUsageRef, nullable: true, description: 'What the call used of OpenAI and its estimated cost. Null while the call is live, and for calls no session ended or ended before it was measured.' }),
    pipelineStatus: t.expose('pipelineStatus', { type: PipelineStatus }),
    pipelineRevision: t.exposeInt('pipelineRevision', { description: 'How many times the call was reprocessed.' }),
    pipelineSteps: t.field({
      type: [PipelineStepRef],
      resolve: (call) =>
        pipelineSteps.flatMap((step) => {
          const state = call.pipelineSteps[step];
          return state ? [{ step, ...state }] : [];
        }),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    lead: t.field({
      type: LeadRef,
      nullable: true,
      resolve: (call, _args, ctx) => (call.lead ? ctx.loaders.leadById.load(call.lead) : null),
    }),
    appointments: t.field({
      type: [AppointmentRef],
      description: 'Appointments booked during this call.',
      resolve: (call, _args, ctx) => ctx.loaders.appointmentsByCallId.load(call.id),
    }),
    webhookDeliveries: t.field({
      type: [WebhookDeliveryRef],
      resolve: (call, _args, ctx) => ctx.loaders.webhookDeliveriesByCallId.load(call.id),
    }),
    outboundCallJob: t.field({
      type: OutboundCallJobRef,
      nullable: true,
      resolve: (call, _args, ctx) => (call.outboundJob ? ctx.loaders.outboundJobById.load(call.outboundJob) : null),
    }),
  }),
});

const CallFilter = builder.inputType('CallFilter', {
  fields: (t) => ({
    from: t.field({ type: 'DateTime', description: 'Calls created at or after this instant.' }),
    to: t.field({ type: 'DateTime', description: 'Calls created before this instant.' }),
    direction: t.field({ type: CallDirection }),
    status: t.field({ type: [CallStatus], description: 'Any of these statuses.' }),
    leadId: t.id({ validate: z.uuid('is not a lead id').nullish() }),
    city: t.string({ description: 'The extracted city, exactly (e.g. חיפה).' }),
    serviceCategory: t.string({ description: 'The extracted service category, exactly.' }),
    search: t.string({ description: 'Text in the summary or transcript, any case.', validate: z.string().min(2, 'must be at least 2 characters').max(200).nullish() }),
  }),
});

const CallConnection = connectionOf('Call', CallRef);

builder.queryFields((t) => ({
  calls: t.field({
    type: CallConnection,
    authScopes: { reader: true },
    description: 'The business’s calls, newest first.',
    args: {
      ...pageArguments(t.arg),
      filter: t.arg({ type: CallFilter }),
    },
    complexity: pageComplexity,
    resolve: async (_root, args, ctx, info) => {
      const filter = args.filter ?? {};
      const page = await listCalls(ctx.em, businessIdOf(ctx), { ...filter, leadId: filter.leadId === undefined || filter.leadId === null ? null : String(filter.leadId) }, pageRequest(args, info));
      for (const call of page.rows) ctx.loaders.callById.prime(call.id, call);
      for (const lead of page.leads) ctx.loaders.leadById.prime(lead.id, lead);
      return toConnection(page);
    },
  }),
  call: t.field({
    type: CallRef,
    nullable: true,
    authScopes: { reader: true },
    description: 'A call by id; null when this business has none with that id.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ownRow(ctx, ctx.loaders.callById, String(args.id)),
  }),
  callBySid: t.field({
    type: CallRef,
    nullable: true,
    authScopes: { reader: true },
    description: 'A call by Twilio call SID; null when this business has none with that SID.',
    args: { callSid: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => findCallBySid(ctx.em, businessIdOf(ctx), args.callSid),
  }),
}));


builder.mutationField('reprocessCall', (t) =>
  t.field({
    type: CallRef,
    authScopes: { admin: true },
    description: 'Runs a finished call’s post-call pipeline again from the start; its results go out as a new call.completed webhook.',
    errors: { types: [FieldValidationError, NotFoundError, ConflictError], directResult: true },
    args: { callId: t.arg.id({ required: true, validate: z.uuid('is not a call id') }) },
    resolve: (_root, args, ctx) => domain(() => reprocessCall(ctx.em, ctx.services.queue, businessIdOf(ctx), String(args.callId))),
  }),
);

export { PipelineStatus, PipelineStepName, PipelineStepOutcome, Speaker };
