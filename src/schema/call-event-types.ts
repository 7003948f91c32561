import type { CallEvent, SupervisorCommand } from '../core/events.ts';
import { builder, type Types } from './builder.ts';
import { CallDirection, CallStatus, PipelineStatus, PipelineStepName, PipelineStepOutcome, Speaker } from './call.ts';
import { CallRef } from './refs.ts';
import { visibleEvent } from './supervisor-visibility.ts';
import { WebhookDeliveryStatus } from './webhook-delivery.ts';

/*
 * Typed call events (issue 21): every kind of `CallEvent` (src/core/events.ts) is one object
 * type of the `CallEventPayload` union, so clients (and their code generators) see each
 * event's fields instead of a JSON blob. `callEventMembers` maps every kind to its type: a
 * `Record` over the kinds, so a kind added to events.ts without a GraphQL type fails the type
 * check. A kind the schema does not know at run time (an event stored or published by a newer
 * instance) is an `UnknownCallEvent`, never a failed subscription. Every member implements
 * `CallEventBase { type at }`, so a client selects those once, not once per member.
 *
 * Fields of the same name have the same type in every member (`status` is only Twilio's, the
 * others say whose status they are), so one selection of every member's fields is valid
 * GraphQL without aliases.
 */

type CallEventType = CallEvent['type'];
type EventOf<K extends CallEventType> = Extract<CallEvent, { type: K }>;
type EventFields<K extends CallEventType> = PothosSchemaTypes.ObjectFieldBuilder<Types, EventOf<K>>;

/** What every call event has, whatever its kind (an unknown kind too). */
type AnyEvent = { type: string; at?: string; turn?: { at: string } };

/** When an event happened (a transcript turn carries its time on the turn). */
function atOf(event: AnyEvent): Date | null {
  const at = event.at ?? event.turn?.at;
  return at === undefined ? null : new Date(at);
}

/** The fields every member shares, so a client selects them once: `... on CallEventBase { type at }`. */
const CallEventBase = builder.interfaceRef<AnyEvent>('CallEventBase').implement({
  description: 'What every call event has: its kind and when it happened. Every member of CallEventPayload implements it.',
  resolveType: (event) => callEventTypeName(event),
  fields: (t) => ({
    type: t.exposeString('type', { description: 'The event’s kind, e.g. `transcript.turn`, `tool.called`, `supervisor.action`.' }),
    at: t.field({ type: 'DateTime', description: 'When it happened; for an event of an unknown kind that does not say, when the server read it.', resolve: (event) => atOf(event) ?? new Date() }),
  }),
});

/** One member of the union: the shared fields (CallEventBase), then the kind's own from `fields`. */
function eventType<K extends CallEventType>(name: string, description: string, fields: (t: EventFields<K>) => Record<string, unknown> = () => ({})) {
  return builder.objectRef<EventOf<K>>(name).implement({
    description,
    interfaces: [CallEventBase],
    fields: (t) => fields(t) as {},
  });
}

/** An enum over a closed union of stored values, each described; a `Record` so none is missed. */
function describedEnum<V extends string>(name: string, description: string, values: Record<V, string>) {
  return builder.enumType(name, {
    description,
    values: Object.fromEntries(Object.entries<string>(values).map(([value, about]) => [value.replaceAll('-', '_').toUpperCase(), { value: value as V, description: about }])) as Record<string, { value: V; description: string }>,
  });
}

type ClosingReason = EventOf<'call.closing'>['reason'];
const CallClosingReason = describedEnum<ClosingReason>('CallClosingReason', 'Why Callwatch began ending a call.', {
  silence: 'The caller stayed silent through the reprompts.',
  'max-duration': 'The call reached the business’s maximum call duration.',
  shutdown: 'The server holding the call is shutting down.',
  agent: 'The agent ended the call (its end_call tool).',
  failure: 'The voice agent failed and could not go on.',
});

const SupervisorAction = describedEnum<SupervisorCommand['action']>('SupervisorAction', 'What a supervisor did to a live call.', {
  whisper: 'Gave the agent an instruction the caller does not hear (whisperToAgent).',
  transfer: 'Transferred the call to a phone number (transferCall).',
  hangup: 'Hung up the call (hangUpCall).',
});

const CallStartedEvent = eventType<'call.started'>('CallStartedEvent', 'The voice agent joined the call.', (t) => ({
  callSid: t.exposeString('callSid', { description: 'Twilio’s call SID.' }),
  direction: t.expose('direction', { type: CallDirection, description: 'Whether the caller called the business or the business called out.' }),
}));

const CallStatusEvent = eventType<'call.status'>('CallStatusEvent', 'Twilio reported a new status for the call.', (t) => ({
  callSid: t.exposeString('callSid', { description: 'Twilio’s call SID.' }),
  status: t.field({ type: CallStatus, description: 'The call’s status now.', resolve: (event) => event.status as never }),
}));

const CallEndedEvent = eventType<'call.ended'>('CallEndedEvent', 'The call ended for Callwatch: the voice agent left it.', (t) => ({
  callSid: t.exposeString('callSid', { description: 'Twilio’s call SID.' }),
  durationSec: t.exposeInt('durationSec', { nullable: true, description: 'How long the call lasted, in seconds; null when unknown.' }),
  endReason: t.exposeString('reason', { description: 'Why the call ended, as `Call.endReason` stores it.' }),
  endStatus: t.field({
    type: CallStatus,
    nullable: true,
    description: 'COMPLETED, or FAILED when the voice agent was lost or a transfer failed. Null on events stored before Callwatch recorded it (December 2026).',
    resolve: (event) => event.status ?? null,
  }),
}));

const TranscriptDeltaEvent = eventType<'transcript.delta'>('TranscriptDeltaEvent', 'A piece of an utterance still being spoken or transcribed; the whole turn follows as a TranscriptTurnEvent.', (t) => ({
  speaker: t.expose('speaker', { type: Speaker, description: 'Who is speaking.' }),
  itemId: t.exposeString('itemId', { description: 'The utterance this piece belongs to; its TranscriptTurnEvent has the same itemId.' }),
  delta: t.exposeString('delta', { description: 'The new text, to append to what came before for the same itemId.' }),
}));

const TranscriptTurnEvent = eventType<'transcript.turn'>('TranscriptTurnEvent', 'One whole utterance, as it goes into `Call.transcript`.', (t) => ({
  itemId: t.exposeString('itemId', { description: 'The utterance’s id; its TranscriptDeltaEvents have the same itemId.' }),
  speaker: t.field({ type: Speaker, description: 'Who spoke.', resolve: (event) => event.turn.speaker }),
  text: t.string({ description: 'What was said (`[inaudible]` for an inaudible caller turn).', resolve: (event) => event.turn.text }),
  interrupted: t.boolean({ description: 'An agent turn the caller talked over.', resolve: (event) => event.turn.interrupted ?? false }),
  inaudible: t.boolean({ description: 'A caller turn whose words could not be transcribed live.', resolve: (event) => event.turn.inaudible ?? false }),
}));

const SpeechStartedEvent = eventType<'speech.started'>('SpeechStartedEvent', 'The caller started speaking.');
const SpeechStoppedEvent = eventType<'speech.stopped'>('SpeechStoppedEvent', 'The caller stopped speaking.');

const AgentInterruptedEvent = eventType<'agent.interrupted'>('AgentInterruptedEvent', 'The caller talked over the agent, which stopped speaking.', (t) => ({
  itemId: t.exposeString('itemId', { description: 'The agent’s utterance that was cut short.' }),
  heardMs: t.exposeInt('heardMs', { description: 'How much of it the caller heard, in milliseconds.' }),
}));

const ToolCalledEvent = eventType<'tool.called'>('ToolCalledEvent', 'The agent called one of its tools (save_lead_details, book_appointment, end_call, …).', (t) => ({
  toolCallId: t.exposeString('toolCallId', { description: 'Pairs the call with its ToolResultEvent.' }),
  name: t.exposeString('name', { description: 'The tool’s name.' }),
  arguments: t.field({
    type: 'JSON',
    description: 'Free-form: the arguments as the model sent them, parsed; the raw text when it was not valid JSON. Each tool has its own.',
    resolve: (event) => parsedOrText(event.arguments),
  }),
}));

const ToolResultEvent = eventType<'tool.result'>('ToolResultEvent', 'What a tool answered the agent.', (t) => ({
  toolCallId: t.exposeString('toolCallId', { description: 'Pairs the result with its ToolCalledEvent.' }),
  name: t.exposeString('name', { description: 'The tool’s name.' }),
  output: t.field({ type: 'JSON', description: 'Free-form: what the tool returned to the model; each tool has its own.', resolve: (event) => event.output }),
  failed: t.exposeBoolean('failed', { description: 'The tool could not do what was asked; `output` says why.' }),
}));

const CapturedLeadFields = builder.objectRef<EventOf<'lead.captured'>['fields']>('CapturedLeadFields').implement({
  description: 'What the agent has learned of the caller so far; null for what it has not.',
  fields: (t) => ({
    name: t.exposeString('name', { nullable: true, description: 'The caller’s name.' }),
    city: t.exposeString('city', { nullable: true, description: 'The caller’s city.' }),
    service: t.exposeString('service', { nullable: true, description: 'The service the caller wants.' }),
    notes: t.stringList({ description: 'Notes the agent took.', resolve: (fields) => fields.notes ?? [] }),
  }),
});

const LeadCapturedEvent = eventType<'lead.captured'>('LeadCapturedEvent', 'The agent saved details of the caller (save_lead_details).', (t) => ({
  fields: t.expose('fields', { type: CapturedLeadFields, description: 'All details captured so far in this call.' }),
}));

const RepromptEvent = eventType<'watchdog.reprompt'>('RepromptEvent', 'The caller was silent, so the agent spoke again.', (t) => ({
  attempt: t.exposeInt('attempt', { description: '1 for the first reprompt of a silence, then 2, …' }),
}));

const KeyPressedEvent = eventType<'key.pressed'>('KeyPressedEvent', 'The caller pressed a key on their phone (DTMF).', (t) => ({
  digit: t.exposeString('digit', { description: '0–9, *, #, or A–D.' }),
}));

const CallClosingEvent = eventType<'call.closing'>('CallClosingEvent', 'Callwatch began ending the call; a CallEndedEvent follows.', (t) => ({
  closingReason: t.expose('reason', { type: CallClosingReason, description: 'Why.' }),
}));

const CallTransferEvent = eventType<'call.transfer'>('CallTransferEvent', 'The call was handed over to a person (a transfer by the agent, or when the voice agent was unavailable).', (t) => ({
  to: t.exposeString('to', { nullable: true, description: 'The number it was handed to; null when none was set.' }),
  reason: t.exposeString('reason', { description: 'Why it was handed over.' }),
  ok: t.exposeBoolean('ok', { description: 'Whether Twilio took the transfer.' }),
  error: t.exposeString('error', { nullable: true, description: 'Why the transfer failed (ok false).' }),
}));

const AgentFailureEvent = eventType<'agent.failure'>('AgentFailureEvent', 'The voice agent had a problem: OpenAI was lost or refused a request.', (t) => ({
  problem: t.exposeString('problem', { description: 'What went wrong.' }),
  recovered: t.exposeBoolean('recovered', { description: 'The agent came back and the call went on.' }),
}));

const SupervisorActionEvent = eventType<'supervisor.action'>('SupervisorActionEvent', 'A supervisor acted on the live call.', (t) => ({
  action: t.expose('action', { type: SupervisorAction, description: 'What the supervisor did.' }),
  detail: t.string({
    nullable: true,
    description: 'The whisper’s text, or the number transferred to; null for a hang-up. Viewer keys never see a whisper’s text (null).',
    resolve: (event) => event.detail,
  }),
  apiKeyId: t.id({ nullable: true, description: 'The API key that acted; null for viewer keys.', resolve: (event) => event.apiKeyId }),
  acted: t.exposeBoolean('acted', { description: 'Whether the instance holding the call carried it out.' }),
  error: t.exposeString('error', { nullable: true, description: 'Why it did not (acted false).' }),
}));

const PipelineStepEvent = eventType<'pipeline.step'>('PipelineStepEvent', 'A step of the post-call pipeline finished.', (t) => ({
  step: t.field({ type: PipelineStepName, description: 'Which step.', resolve: (event) => event.step as never }),
  outcome: t.expose('outcome', { type: PipelineStepOutcome, description: 'How it finished.' }),
  error: t.exposeString('error', { nullable: true, description: 'Why it failed (outcome FAILED).' }),
}));

const PipelineFinishedEvent = eventType<'pipeline.finished'>('PipelineFinishedEvent', 'The post-call pipeline finished.', (t) => ({
  pipelineStatus: t.field({ type: PipelineStatus, description: 'COMPLETED, or FAILED when at least one step failed.', resolve: (event) => event.status }),
}));

const WebhookAttemptEvent = eventType<'webhook.attempt'>('WebhookAttemptEvent', 'One attempt to deliver the call’s webhook.', (t) => ({
  deliveryId: t.exposeID('deliveryId', { description: 'The WebhookDelivery the attempt belongs to.' }),
  deliveryStatus: t.expose('status', { type: WebhookDeliveryStatus, description: 'The delivery’s status after this attempt: PENDING means another attempt is scheduled.' }),
  statusCode: t.exposeInt('statusCode', { nullable: true, description: 'The receiver’s HTTP status; null when no response came.' }),
  error: t.exposeString('error', { nullable: true, description: 'What went wrong, when it did.' }),
}));

const UnknownCallEvent = builder.objectRef<AnyEvent>('UnknownCallEvent').implement({
  description: 'An event of a kind this version of the API has no type for (from a newer server): its `type` and `at` only. Upgrade the client’s schema for its fields.',
  interfaces: [CallEventBase],
  fields: () => ({}),
});

/** The GraphQL type of every kind of call event. */
export const callEventMembers = {
  'call.started': CallStartedEvent,
  'call.status': CallStatusEvent,
  'call.ended': CallEndedEvent,
  'transcript.delta': TranscriptDeltaEvent,
  'transcript.turn': TranscriptTurnEvent,
  'speech.started': SpeechStartedEvent,
  'speech.stopped': SpeechStoppedEvent,
  'agent.interrupted': AgentInterruptedEvent,
  'tool.called': ToolCalledEvent,
  'tool.result': ToolResultEvent,
  'lead.captured': LeadCapturedEvent,
  'watchdog.reprompt': RepromptEvent,
  'key.pressed': KeyPressedEvent,
  'call.closing': CallClosingEvent,
  'call.transfer': CallTransferEvent,
  'agent.failure': AgentFailureEvent,
  'supervisor.action': SupervisorActionEvent,
  'pipeline.step': PipelineStepEvent,
  'pipeline.finished': PipelineFinishedEvent,
  'webhook.attempt': WebhookAttemptEvent,
} satisfies { [K in CallEventType]: unknown };

const memberNames = new Map<string, string>(Object.entries(callEventMembers).map(([kind, ref]) => [kind, ref.name]));

/** The GraphQL type name of an event: its kind's member, or UnknownCallEvent. */
function callEventTypeName(event: { type: string }): string {
  return memberNames.get(event.type) ?? 'UnknownCallEvent';
}

export const CallEventPayload = builder.unionType('CallEventPayload', {
  description: 'One call event, typed by its kind: select its fields with `... on TranscriptTurnEvent { speaker text }` and so on. An event of a kind newer than this schema is an UnknownCallEvent.',
  types: [...Object.values(callEventMembers), UnknownCallEvent],
  resolveType: (event) => callEventTypeName(event as AnyEvent),
});

/** A tool's arguments as JSON when they parse; else the text as it came (the model sent invalid JSON, and the tool answered it with an error). */
function parsedOrText(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

builder.objectField(CallRef, 'events', (t) =>
  t.field({
    type: [CallEventPayload],
    description: 'The call’s stored timeline, typed: the call starting and ending, tool calls and results, captured lead details, reprompts, the caller’s key presses, hand-overs, supervisors’ actions, failures — in order. For viewer keys a SupervisorActionEvent has no whisper text and no apiKeyId (null).',
    resolve: (call, _args, ctx) => call.timeline.map((event) => visibleEvent(ctx, event)),
  }),
);
