import { readFileSync } from 'node:fs';
import { isInterfaceType, isObjectType, isUnionType, parse, validate } from 'graphql';
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiKeyRole } from '../../src/core/auth.ts';
import type { CallEvent } from '../../src/core/events.ts';
import { issueApiKey } from '../../src/entities/api-key.repository.ts';
import { Call } from '../../src/entities/call.entity.ts';
import { loadFixture } from '../../src/sandbox/fixtures.ts';
import { callEventMembers } from '../../src/schema/call-event-types.ts';
import { schema } from '../../src/schema/index.ts';
import { endedCall, eventually, placeCall, useCallHarness } from '../support/calls.ts';
import { createCall } from '../support/factories.ts';
import { collect, graphql, graphqlWsClient } from '../support/graphql.ts';

/**
 * Typed call events (issue 21): `CallEvent.event` (callEvents, callUpdated) and `Call.events`
 * are the `CallEventPayload` union, one type per kind of event, through real GraphQL — HTTP
 * and graphql-ws — during and after calls against the stand-ins. A viewer key sees a
 * supervisor's action without its whisper text and key id there too; the deprecated JSON
 * (`data`, `timeline`) still answers.
 */

/** Every member's every field, without aliases (the shared ones once, through CallEventBase): they merge in one selection. */
const eventSelection = `__typename
  ... on CallEventBase { type at }
  ... on CallStartedEvent { callSid direction }
  ... on CallStatusEvent { callSid status }
  ... on CallEndedEvent { callSid durationSec endReason endStatus }
  ... on TranscriptDeltaEvent { speaker itemId delta }
  ... on TranscriptTurnEvent { itemId speaker text interrupted inaudible }
  ... on AgentInterruptedEvent { itemId heardMs }
  ... on ToolCalledEvent { toolCallId name arguments }
  ... on ToolResultEvent { toolCallId name output failed }
  ... on LeadCapturedEvent { fields { name city service notes } }
  ... on RepromptEvent { attempt }
  ... on KeyPressedEvent { digit }
  ... on CallClosingEvent { closingReason }
  ... on CallTransferEvent { to reason ok error }
  ... on AgentFailureEvent { problem recovered }
  ... on SupervisorActionEvent { action detail apiKeyId acted error }
  ... on PipelineStepEvent { step outcome error }
  ... on PipelineFinishedEvent { pipelineStatus }
  ... on WebhookAttemptEvent { deliveryId deliveryStatus statusCode error }
`;
const callEventsQuery = `subscription($id: ID!) { callEvents(callId: $id) { type at data event { ${eventSelection} } } }`;

type Streamed = { type: string; data: Record<string, any>; event: Record<string, any> & { __typename: string } };

describe('the call event union', () => {
  it('has a member for every kind of event in src/core/events.ts, and UnknownCallEvent for the rest', () => {
    const source = readFileSync(new URL('../../src/core/events.ts', import.meta.url), 'utf8');
    // Every `type: '…'` there is a call event's kind, except the outbound job's (a subscription of its own).
    const kinds = [...new Set([...source.matchAll(/type: '([a-z]+\.[a-z-]+)'/g)].map((match) => match[1]!))].filter((kind) => kind !== 'outbound.updated');
    expect(Object.keys(callEventMembers).sort()).toEqual(kinds.sort());
    const union = schema.getType('CallEventPayload');
    if (!isUnionType(union)) throw new Error('CallEventPayload is not a union');
    expect(union.getTypes().map((type) => type.name).sort()).toEqual([...Object.values(callEventMembers).map((ref) => ref.name), 'UnknownCallEvent'].sort());
  });

  it('describes every member and every field of it, and selecting every field of every member is one valid query', () => {
    const union = schema.getType('CallEventPayload');
    if (!isUnionType(union)) throw new Error('CallEventPayload is not a union');
    const undescribed = [union, schema.getType('CallEventBase')!, ...union.getTypes()].flatMap((type) => [
      ...(type.description ? [] : [type.name]),
      ...(isObjectType(type) || isInterfaceType(type) ? Object.values(type.getFields()).filter((field) => !field.description).map((field) => `${type.name}.${field.name}`) : []),
    ]);
    expect(undescribed).toEqual([]);
    expect(validate(schema, parse(callEventsQuery)).map((error) => error.message)).toEqual([]);
  });

  it('README’s typed-events example is valid against the schema', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const example = /\*\*Typed events\.\*\*[\s\S]*?```graphql\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(example).toContain('... on TranscriptTurnEvent { speaker text }');
    expect(validate(schema, parse(example!)).map((error) => error.message)).toEqual([]);
  });
});

describe('typed call events over GraphQL', () => {
  const h = useCallHarness();
  const keys = {} as Record<ApiKeyRole, string>;
  const clients: Client[] = [];
  beforeAll(async () => {
    for (const role of ['admin', 'supervisor', 'viewer'] as const) keys[role] = (await issueApiKey(h.app.services.orm.em.fork(), { businessId: h.business.id, role, name: role })).key;
  });
  afterAll(() => Promise.all(clients.map((client) => client.dispose())));

  /** callEvents of `callId` for `role`, once the subscription is live: it has seen an event of a kind the schema does not know. */
  async function watch(role: ApiKeyRole, callId: string) {
    const client = graphqlWsClient(h.app.url, keys[role]);
    clients.push(client);
    const stream = collect(client, callEventsQuery, { id: callId });
    const events = () => stream.results.map((result) => {
      expect(result.errors).toBeUndefined();
      return result.data?.callEvents as Streamed;
    });
    await eventually(
      () => {
        if (stream.errors.length > 0 || stream.results.some((result) => result.errors)) throw new Error(`subscription failed: ${JSON.stringify([stream.errors, stream.results])}`);
        h.app.services.bus.publish('call:events', callId, { type: 'subscriber.ready', callId, at: new Date().toISOString() } as unknown as CallEvent);
        return events();
      },
      (seen) => seen.length > 0,
      `${role}'s subscription to go live`,
    );
    return { events: () => events().filter((event) => event.type !== 'subscriber.ready'), first: events()[0]!, stop: stream.stop };
  }

  it('an event of a kind the schema does not know arrives as an UnknownCallEvent, and the subscription goes on', async () => {
    const call = await createCall(h.app.services.orm.em, h.business.id, { status: 'in-progress' });
    const stream = await watch('viewer', call.id);
    expect(stream.first).toMatchObject({ type: 'subscriber.ready', data: { type: 'subscriber.ready' }, event: { __typename: 'UnknownCallEvent', type: 'subscriber.ready', at: expect.any(String) } });
    h.app.services.bus.publish('call:events', call.id, { type: 'key.pressed', callId: call.id, digit: '5', at: '2026-12-04T10:00:00.000Z' });
    await eventually(() => stream.events(), (events) => events.length > 0, 'the next event');
    expect(stream.events()[0]?.event).toEqual({ __typename: 'KeyPressedEvent', type: 'key.pressed', at: '2026-12-04T10:00:00.000Z', digit: '5' });
    stream.stop();
  });

  it('streams a live call’s events typed, and reads its stored timeline typed over HTTP; a viewer never sees a whisper’s text there', async () => {
    const { caller, session, callSid } = await placeCall(h, 'CA00000000000000000000000000002102');
    const call = await h.app.services.orm.em.fork().findOneOrFail(Call, { callSid });
    const supervisor = await watch('supervisor', call.id);
    const viewer = await watch('viewer', call.id);
    session.script({
      callerTranscripts: ['אני רוצה תור'],
      replies: [{ text: 'שלום' }, { toolCall: { name: 'save_lead_details', arguments: { name: 'שרה לוי' } } }, { text: 'רשמתי' }],
    });
    caller.start();
    await eventually(() => caller.heardMs(), (ms) => ms >= 500, 'the greeting');
    await caller.play(loadFixture('caller-booking'), { pace: 'instant' });
    await caller.silence(800, { pace: 'instant' });
    const typeOf = (stream: typeof viewer) => stream.events().map((streamed) => streamed.event.__typename);
    await eventually(() => typeOf(supervisor), (types) => types.includes('LeadCapturedEvent'), 'the captured lead');
    const whisper = await graphql(h.app.url, keys.supervisor, 'mutation($id: ID!, $text: String!) { whisperToAgent(callId: $id, text: $text) { ... on SupervisorActionResult { acted } } }', { id: call.id, text: whisperText });
    expect(whisper.data?.whisperToAgent).toEqual({ acted: true });
    caller.stop();
    await caller.closed;
    const row = await endedCall(h, callSid);
    for (const stream of [supervisor, viewer]) await eventually(() => typeOf(stream), (types) => types.includes('CallEndedEvent'), 'the end of the call');

    const live = (typename: string) => supervisor.events().filter((streamed) => streamed.event.__typename === typename).map((streamed) => streamed.event);
    expect(live('CallStartedEvent')).toEqual([{ __typename: 'CallStartedEvent', type: 'call.started', at: row.startedAt!.toISOString(), callSid, direction: 'INBOUND' }]);
    expect(live('SpeechStartedEvent').length).toBeGreaterThan(0);
    expect(live('TranscriptTurnEvent')).toContainEqual(expect.objectContaining({ speaker: 'CALLER', text: 'אני רוצה תור', interrupted: false, inaudible: false }));
    expect(live('TranscriptTurnEvent')).toContainEqual(expect.objectContaining({ speaker: 'AGENT', text: 'שלום' }));
    expect(live('ToolCalledEvent')).toEqual([expect.objectContaining({ name: 'save_lead_details', arguments: { name: 'שרה לוי' }, toolCallId: expect.any(String) })]);
    expect(live('ToolResultEvent')).toEqual([expect.objectContaining({ name: 'save_lead_details', failed: false, output: { saved: true } })]);
    expect(live('LeadCapturedEvent')).toEqual([expect.objectContaining({ fields: expect.objectContaining({ name: 'שרה לוי' }) })]);
    expect(live('SupervisorActionEvent')).toEqual([expect.objectContaining({ action: 'WHISPER', detail: whisperText, apiKeyId: expect.any(String), acted: true })]);
    expect(live('CallEndedEvent')).toEqual([expect.objectContaining({ callSid, endReason: 'caller hung up', endStatus: 'COMPLETED', durationSec: row.durationSec })]);
    expect(viewer.events().find((streamed) => streamed.event.__typename === 'SupervisorActionEvent')?.event).toMatchObject({ action: 'WHISPER', detail: null, apiKeyId: null, acted: true });
    expect(JSON.stringify(viewer.events())).not.toContain(whisperText);
    for (const stream of [supervisor, viewer]) stream.stop();

    const stored = async (role: ApiKeyRole) => {
      const response = await graphql(h.app.url, keys[role], `query($id: ID!) { call(id: $id) { timeline events { ${eventSelection} } } }`, { id: call.id });
      expect(response.errors).toBeUndefined();
      return response.data?.call as { timeline: { type: string }[]; events: Record<string, any>[] };
    };
    const bySupervisor = await stored('supervisor');
    expect(bySupervisor.events.map((event) => event.__typename)).toEqual(['CallStartedEvent', 'ToolCalledEvent', 'ToolResultEvent', 'LeadCapturedEvent', 'SupervisorActionEvent', 'CallEndedEvent']);
    expect(bySupervisor.events.map((event) => event.type)).toEqual(row.timeline.map((event) => event.type));
    // The typed timeline is the live events as they were streamed.
    expect(bySupervisor.events).toEqual(supervisor.events().filter((streamed) => bySupervisor.events.some((event) => event.type === streamed.type)).map((streamed) => streamed.event));
    const byViewer = await stored('viewer');
    expect(byViewer.events.find((event) => event.__typename === 'SupervisorActionEvent')).toMatchObject({ action: 'WHISPER', detail: null, apiKeyId: null, acted: true });
    expect(JSON.stringify(byViewer)).not.toContain(whisperText);
    // The deprecated JSON timeline still answers.
    expect(bySupervisor.timeline.map((event) => event.type)).toEqual(row.timeline.map((event) => event.type));
  });

  it('reads a stored event of an unknown kind as an UnknownCallEvent, and a call.ended stored before it had a status with endStatus null', async () => {
    const at = '2026-11-30T08:00:00.000Z';
    const call = await createCall(h.app.services.orm.em, h.business.id, {
      timeline: [
        { type: 'call.ended', callId: 'x', callSid: 'CAold', durationSec: 30, reason: 'caller hung up', at },
        { type: 'future.kind', callId: 'x', at },
      ] as unknown as CallEvent[],
    });
    const response = await graphql(h.app.url, keys.viewer, `query($id: ID!) { call(id: $id) { events { ${eventSelection} } } }`, { id: call.id });
    expect(response.errors).toBeUndefined();
    expect(response.data?.call.events).toEqual([
      { __typename: 'CallEndedEvent', type: 'call.ended', at, callSid: 'CAold', durationSec: 30, endReason: 'caller hung up', endStatus: null },
      { __typename: 'UnknownCallEvent', type: 'future.kind', at },
    ]);
  });

  it('streams every kind of event as its typed member with its fields; a viewer gets a supervisor action without whisper text and key id', async () => {
    const call = await createCall(h.app.services.orm.em, h.business.id, { status: 'in-progress' });
    const samples = eventSamples(call.id, call.callSid);
    const supervisor = await watch('supervisor', call.id);
    const viewer = await watch('viewer', call.id);
    for (const event of Object.values(samples)) h.app.services.bus.publish('call:events', call.id, event);
    const kinds = Object.keys(samples);
    for (const stream of [supervisor, viewer]) await eventually(() => stream.events().length, (n) => n === kinds.length, 'every kind');

    const typed = Object.fromEntries(supervisor.events().map((streamed) => [streamed.type, streamed.event]));
    expect(supervisor.events().map((streamed) => streamed.type)).toEqual(kinds);
    expect(typed).toEqual(expectedTyped(call.callSid, samples['supervisor.action'].apiKeyId));
    // The deprecated JSON is the event as published.
    expect(supervisor.events().map((streamed) => streamed.data)).toEqual(Object.values(samples));

    const whisper = (stream: typeof viewer) => stream.events().find((streamed) => streamed.type === 'supervisor.action')!;
    expect(whisper(viewer).event).toEqual({ ...typed['supervisor.action'], detail: null, apiKeyId: null });
    expect(whisper(viewer).data).toMatchObject({ detail: null, apiKeyId: null });
    expect(JSON.stringify(viewer.events())).not.toContain(whisperText);
    for (const stream of [supervisor, viewer]) stream.stop();
  });
});

const whisperText = 'תציע לה הנחה של 15%';

/** One event of every kind, as the code publishes them; a `Record` over the kinds, so none is left out. */
function eventSamples(callId: string, callSid: string): { [K in CallEvent['type']]: Extract<CallEvent, { type: K }> } {
  const at = (second: number) => `2026-12-04T10:00:${String(second).padStart(2, '0')}.000Z`;
  return {
    'call.started': { type: 'call.started', callId, callSid, direction: 'inbound', at: at(0) },
    'call.status': { type: 'call.status', callId, callSid, status: 'in-progress', at: at(1) },
    'speech.started': { type: 'speech.started', callId, at: at(2) },
    'speech.stopped': { type: 'speech.stopped', callId, at: at(3) },
    'transcript.delta': { type: 'transcript.delta', callId, speaker: 'caller', itemId: 'item_1', delta: 'אני רו', at: at(4) },
    'transcript.turn': { type: 'transcript.turn', callId, itemId: 'item_1', turn: { speaker: 'caller', text: 'אני רוצה תור', at: at(4) } },
    'agent.interrupted': { type: 'agent.interrupted', callId, itemId: 'item_2', heardMs: 740, at: at(5) },
    'tool.called': { type: 'tool.called', callId, toolCallId: 'call_1', name: 'save_lead_details', arguments: '{"name":"שרה"}', at: at(6) },
    'tool.result': { type: 'tool.result', callId, toolCallId: 'call_1', name: 'save_lead_details', output: { saved: true }, failed: false, at: at(7) },
    'lead.captured': { type: 'lead.captured', callId, fields: { name: 'שרה', city: 'חיפה' }, at: at(7) },
    'watchdog.reprompt': { type: 'watchdog.reprompt', callId, attempt: 2, at: at(8) },
    'key.pressed': { type: 'key.pressed', callId, digit: '#', at: at(9) },
    'supervisor.action': { type: 'supervisor.action', callId, action: 'whisper', detail: whisperText, apiKeyId: '5d0f6f3e-4a53-4a35-9d53-3b1f3c1f2a01', acted: true, error: null, at: at(10) },
    'agent.failure': { type: 'agent.failure', callId, problem: 'OpenAI socket closed', recovered: true, at: at(11) },
    'call.transfer': { type: 'call.transfer', callId, to: '+972501112233', reason: 'the caller asked for a person', ok: false, error: 'Twilio refused', at: at(12) },
    'call.closing': { type: 'call.closing', callId, reason: 'max-duration', at: at(13) },
    'call.ended': { type: 'call.ended', callId, callSid, durationSec: 14, reason: 'transfer failed', status: 'failed', at: at(14) },
    'pipeline.step': { type: 'pipeline.step', callId, step: 'transcribe', outcome: 'failed', error: 'no recording', at: at(15) },
    'pipeline.finished': { type: 'pipeline.finished', callId, status: 'failed', at: at(16) },
    'webhook.attempt': { type: 'webhook.attempt', callId, deliveryId: '5d0f6f3e-4a53-4a35-9d53-3b1f3c1f2a02', status: 'pending', statusCode: 503, error: 'HTTP 503', at: at(17) },
  };
}

/** The typed members `eventSamples` arrive as. */
function expectedTyped(callSid: string, apiKeyId: string): Record<CallEvent['type'], Record<string, unknown>> {
  const at = (second: number) => `2026-12-04T10:00:${String(second).padStart(2, '0')}.000Z`;
  return {
    'call.started': { __typename: 'CallStartedEvent', type: 'call.started', at: at(0), callSid, direction: 'INBOUND' },
    'call.status': { __typename: 'CallStatusEvent', type: 'call.status', at: at(1), callSid, status: 'IN_PROGRESS' },
    'speech.started': { __typename: 'SpeechStartedEvent', type: 'speech.started', at: at(2) },
    'speech.stopped': { __typename: 'SpeechStoppedEvent', type: 'speech.stopped', at: at(3) },
    'transcript.delta': { __typename: 'TranscriptDeltaEvent', type: 'transcript.delta', at: at(4), speaker: 'CALLER', itemId: 'item_1', delta: 'אני רו' },
    'transcript.turn': { __typename: 'TranscriptTurnEvent', type: 'transcript.turn', at: at(4), itemId: 'item_1', speaker: 'CALLER', text: 'אני רוצה תור', interrupted: false, inaudible: false },
    'agent.interrupted': { __typename: 'AgentInterruptedEvent', type: 'agent.interrupted', at: at(5), itemId: 'item_2', heardMs: 740 },
    'tool.called': { __typename: 'ToolCalledEvent', type: 'tool.called', at: at(6), toolCallId: 'call_1', name: 'save_lead_details', arguments: { name: 'שרה' } },
    'tool.result': { __typename: 'ToolResultEvent', type: 'tool.result', at: at(7), toolCallId: 'call_1', name: 'save_lead_details', output: { saved: true }, failed: false },
    'lead.captured': { __typename: 'LeadCapturedEvent', type: 'lead.captured', at: at(7), fields: { name: 'שרה', city: 'חיפה', service: null, notes: [] } },
    'watchdog.reprompt': { __typename: 'RepromptEvent', type: 'watchdog.reprompt', at: at(8), attempt: 2 },
    'key.pressed': { __typename: 'KeyPressedEvent', type: 'key.pressed', at: at(9), digit: '#' },
    'supervisor.action': { __typename: 'SupervisorActionEvent', type: 'supervisor.action', at: at(10), action: 'WHISPER', detail: whisperText, apiKeyId, acted: true, error: null },
    'agent.failure': { __typename: 'AgentFailureEvent', type: 'agent.failure', at: at(11), problem: 'OpenAI socket closed', recovered: true },
    'call.transfer': { __typename: 'CallTransferEvent', type: 'call.transfer', at: at(12), to: '+972501112233', reason: 'the caller asked for a person', ok: false, error: 'Twilio refused' },
    'call.closing': { __typename: 'CallClosingEvent', type: 'call.closing', at: at(13), closingReason: 'MAX_DURATION' },
    'call.ended': { __typename: 'CallEndedEvent', type: 'call.ended', at: at(14), callSid, durationSec: 14, endReason: 'transfer failed', endStatus: 'FAILED' },
    'pipeline.step': { __typename: 'PipelineStepEvent', type: 'pipeline.step', at: at(15), step: 'TRANSCRIBE', outcome: 'FAILED', error: 'no recording' },
    'pipeline.finished': { __typename: 'PipelineFinishedEvent', type: 'pipeline.finished', at: at(16), pipelineStatus: 'FAILED' },
    'webhook.attempt': { __typename: 'WebhookAttemptEvent', type: 'webhook.attempt', at: at(17), deliveryId: '5d0f6f3e-4a53-4a35-9d53-3b1f3c1f2a02', deliveryStatus: 'PENDING', statusCode: 503, error: 'HTTP 503' },
  };
}
