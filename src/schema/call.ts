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
import { findCallBySid, listCalls, reprocessCall } from '../entities/call.repository.ts';
import { speakers, type TranscriptTurn } from '../core/events.ts';
import { builder } from './builder.ts';
import { businessIdOf, ownRow } from './context.ts';
import { ConflictError, FieldValidationError, NotFoundError, domain } from './errors.ts';
import { enumValues } from './enums.ts';
import { NodeRef } from './node.ts';
import { connectionOf, pageArguments, pageComplexity, pageRequest, toConnection } from './pagination.ts';
import { AppointmentRef, CallRef, LeadRef, OutboundCallJobRef, WebhookDeliveryRef } from './refs.ts';
import { visibleEvent } from './supervisor-visibility.ts';
import { CallLatencyRef, CallUsageRef } from './call-usage.ts';

export const CallDirection = builder.enumType('CallDirection', {
  description: 'Who placed the call.',
  values: enumValues(callDirections, { inbound: 'A caller rang one of the business’s numbers.', outbound: 'The agent called a lead (scheduleOutboundCall or a campaign).' }),
});
export const CallStatus = builder.enumType('CallStatus', {
  description: 'Twilio’s call status.',
  values: enumValues(callStatuses, {
    queued: 'An outbound call waiting at Twilio to be dialled.',
    initiated: 'Twilio started dialling (outbound).',
    ringing: 'The phone is ringing.',
    'in-progress': 'Answered and live.',
    completed: 'Answered, then ended normally.',
    busy: 'The line was busy (outbound).',
    'no-answer': 'Nobody answered (outbound).',
    failed: 'The call could not be connected, or the voice agent was lost during it.',
    canceled: 'Hung up before it was answered, e.g. an outbound call whose job was canceled.',
  }),
});
const PipelineStatus = builder.enumType('PipelineStatus', {
  description: 'PENDING: not started. RUNNING: steps under way. COMPLETED: every step done or skipped. FAILED: finished with at least one failed step (see pipelineSteps); the webhook still went out, with null for what is missing.',
  values: enumValues(pipelineStatuses, {
    pending: 'Not started (the call is live, or its job is queued).',
    running: 'Steps under way.',
    completed: 'Every step done or skipped.',
    failed: 'Finished with at least one failed step.',
  }),
});
const PipelineStepName = builder.enumType('PipelineStepName', {
  description: 'The steps of the post-call pipeline, in the order they run.',
  values: enumValues(pipelineSteps, {
    download: 'Fetch the call’s recording from Twilio.',
    transcribe: 'Transcribe the recording (finalTranscript).',
    summarize: 'Write a short summary in the business’s language (summary).',
    extract: 'Fill in city, service category and the business’s extraction fields.',
    deliver: 'Queue the call.completed webhook to the business’s URL.',
  }),
});
const PipelineStepOutcome = builder.enumType('PipelineStepOutcome', {
  description: 'How a pipeline step ended.',
  values: enumValues(pipelineStepOutcomes, {
    done: 'It produced its result.',
    skipped: 'There was nothing to do (no recording, nothing said, no webhook URL); see reason.',
    failed: 'It gave up; its result stays null and the pipeline goes on. See error.',
  }),
});
const Speaker = builder.enumType('Speaker', {
  description: 'Who spoke a transcript turn.',
  values: enumValues(speakers, { caller: 'The person on the phone.', agent: 'Callwatch’s voice agent.' }),
});

const TranscriptTurnRef = builder.objectRef<TranscriptTurn>('TranscriptTurn').implement({
  description: 'One utterance as heard during the call.',
  fields: (t) => ({
    speaker: t.expose('speaker', { type: Speaker, description: 'Who spoke.' }),
    text: t.exposeString('text', { description: 'What was said, as transcribed live.' }),
    at: t.field({ type: 'DateTime', description: 'When the turn started.', resolve: (turn) => new Date(turn.at) }),
    interrupted: t.boolean({ description: 'An agent turn the caller talked over.', resolve: (turn) => turn.interrupted ?? false }),
    inaudible: t.boolean({ description: 'A caller turn whose words could not be transcribed live; its text is `[inaudible]`.', resolve: (turn) => turn.inaudible ?? false }),
  }),
});

const PipelineStepRef = builder.objectRef<PipelineStepState & { step: PipelineStep }>('PipelineStep').implement({
  description: 'A finished step of the post-call pipeline. A failed step leaves its result null and the pipeline goes on.',
  fields: (t) => ({
    step: t.expose('step', { type: PipelineStepName, description: 'Which step.' }),
    outcome: t.expose('status', { type: PipelineStepOutcome, description: 'How it ended.' }),
    at: t.field({ type: 'DateTime', description: 'When it ended.', resolve: (step) => new Date(step.at) }),
    error: t.exposeString('error', { nullable: true, description: 'Why the step failed (outcome failed).' }),
    reason: t.exposeString('reason', { nullable: true, description: 'Why the step had nothing to do (outcome skipped).' }),
  }),
});

CallRef.implement({
  interfaces: [NodeRef],
  description: 'One phone call, filled in during and after the call.',
  authScopes: (call) => ({ tenant: call.business }),
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Callwatch’s id of the call.' }),
    callSid: t.exposeString('callSid', { description: 'Twilio’s call SID.' }),
    direction: t.expose('direction', { type: CallDirection, description: 'Inbound or outbound.' }),
    status: t.expose('status', { type: CallStatus, description: 'Twilio’s status, kept current while the call lives.' }),
    fromNumber: t.exposeString('fromNumber', { description: 'The calling number (E.164). A caller’s number becomes the lead’s placeholder after eraseLead.' }),
    toNumber: t.exposeString('toNumber', { description: 'The number called (E.164). A called lead’s number becomes its placeholder after eraseLead.' }),
    startedAt: t.expose('startedAt', { type: 'DateTime', nullable: true, description: 'When the agent’s side began (the media stream started); null until then, and for calls never answered.' }),
    endedAt: t.expose('endedAt', { type: 'DateTime', nullable: true, description: 'When the call ended; null while it is live.' }),
    durationSec: t.exposeInt('durationSec', { nullable: true, description: 'Seconds from startedAt to endedAt; null while live or when never answered.' }),
    recordingUrl: t.exposeString('recordingUrl', { nullable: true, description: 'Twilio’s URL of the recording (fetching it needs the Twilio account’s credentials); null when not recorded or deleted.' }),
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
    summary: t.exposeString('summary', { nullable: true, description: 'A short summary in the business’s language, written after the call; null until then, when nothing was said or the step failed.' }),
    city: t.exposeString('extractedCity', { nullable: true, description: 'The caller’s city as extracted after the call; null when not mentioned or not yet extracted.' }),
    serviceCategory: t.exposeString('extractedService', { nullable: true, description: 'The service asked for, as extracted after the call; null when not mentioned or not yet extracted.' }),
    extracted: t.expose('extracted', { type: 'JSON', nullable: true, description: 'Fields of the business’s extraction schema; null = not found.' }),
    latency: t.expose('latency', { type: CallLatencyRef, nullable: true, description: 'How long the caller waited for the agent. Null while the call is live, and for calls no session ended or ended before it was measured.' }),
    usage: t.expose('usage', { type: CallUsageRef, nullable: true, description: 'What the call used of OpenAI and its estimated cost. Null while the call is live, and for calls no session ended or ended before it was measured.' }),
    pipelineStatus: t.expose('pipelineStatus', { type: PipelineStatus, description: 'Progress of the post-call pipeline.' }),
    pipelineRevision: t.exposeInt('pipelineRevision', { description: 'How many times the call was reprocessed.' }),
    pipelineSteps: t.field({
      type: [PipelineStepRef],
      description: 'The pipeline’s finished steps of the current revision, in pipeline order.',
      resolve: (call) =>
        pipelineSteps.flatMap((step) => {
          const state = call.pipelineSteps[step];
          return state ? [{ step, ...state }] : [];
        }),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When Callwatch first saw the call (Twilio’s webhook, or the outbound dial).' }),
    lead: t.field({
      type: LeadRef,
      nullable: true,
      description: 'The lead of the other party’s number; null when none is linked.',
      resolve: (call, _args, ctx) => (call.lead ? ctx.loaders.leadById.load(call.lead) : null),
    }),
    appointments: t.field({
      type: [AppointmentRef],
      description: 'Appointments booked during this call.',
      resolve: (call, _args, ctx) => ctx.loaders.appointmentsByCallId.load(call.id),
    }),
    webhookDeliveries: t.field({
      type: [WebhookDeliveryRef],
      description: 'The call’s webhook deliveries, oldest first.',
      resolve: (call, _args, ctx) => ctx.loaders.webhookDeliveriesByCallId.load(call.id),
    }),
    outboundCallJob: t.field({
      type: OutboundCallJobRef,
      nullable: true,
      description: 'The outbound call job this call was an attempt of; null for inbound calls.',
      resolve: (call, _args, ctx) => (call.outboundJob ? ctx.loaders.outboundJobById.load(call.outboundJob) : null),
    }),
  }),
});

const CallFilter = builder.inputType('CallFilter', {
  description: 'Which calls to list; every field given must match (AND).',
  fields: (t) => ({
    from: t.field({ type: 'DateTime', description: 'Calls created at or after this instant.' }),
    to: t.field({ type: 'DateTime', description: 'Calls created before this instant.' }),
    direction: t.field({ type: CallDirection, description: 'Only inbound or only outbound calls.' }),
    status: t.field({ type: [CallStatus], description: 'Any of these statuses.' }),
    leadId: t.id({ description: 'Only this lead’s calls.', validate: z.uuid('is not a lead id').nullish() }),
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
      filter: t.arg({ type: CallFilter, description: 'Only calls matching it; all calls when left out.' }),
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
    args: { id: t.arg.id({ required: true, description: 'The Call.id.' }) },
    resolve: (_root, args, ctx) => ownRow(ctx, ctx.loaders.callById, String(args.id)),
  }),
  callBySid: t.field({
    type: CallRef,
    nullable: true,
    authScopes: { reader: true },
    description: 'A call by Twilio call SID; null when this business has none with that SID.',
    args: { callSid: t.arg.string({ required: true, description: 'Twilio’s call SID (CA…).' }) },
    resolve: (_root, args, ctx) => findCallBySid(ctx.em, businessIdOf(ctx), args.callSid),
  }),
}));


builder.mutationField('reprocessCall', (t) =>
  t.field({
    type: CallRef,
    authScopes: { admin: true },
    description: 'Runs a finished call’s post-call pipeline again from the start; its results go out as a new call.completed webhook.',
    errors: { types: [FieldValidationError, NotFoundError, ConflictError], directResult: true },
    args: { callId: t.arg.id({ required: true, description: 'The call to reprocess; it must have ended.', validate: z.uuid('is not a call id') }) },
    resolve: (_root, args, ctx) => domain(() => reprocessCall(ctx.em, ctx.services.queue, businessIdOf(ctx), String(args.callId))),
  }),
);

export { PipelineStatus, PipelineStepName, PipelineStepOutcome, Speaker };
