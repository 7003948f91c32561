import { randomUUID } from 'node:crypto';
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { issueApiKey } from '../../src/entities/api-key.repository.ts';
import type { CallLifecycleEvent } from '../../src/core/events.ts';
import { Call } from '../../src/entities/call.entity.ts';
import { loadFixture } from '../../src/sandbox/fixtures.ts';
import { answerCall, busListeners, connectCaller, endedCall, eventually, placeCall, startCallHarness, type CallHarness } from '../support/calls.ts';
import { createBusiness } from '../support/factories.ts';
import { collect, graphql, graphqlWsClient } from '../support/graphql.ts';

/** Live monitoring over graphql-ws on /graphql, during sandbox calls, scoped by API key. */

const client = (h: CallHarness, apiKey: string | null) => graphqlWsClient(h.app.url, apiKey);

describe('live monitoring subscriptions', () => {
  let h: CallHarness;
  let keyA: string;
  let keyB: string;
  let otherBusinessId: string;
  const clients: Client[] = [];
  beforeAll(async () => {
    h = await startCallHarness();
    keyA = (await issueApiKey(h.app.services.orm.em.fork(), { businessId: h.business.id, role: 'viewer', name: 'console' })).key;
    const other = await createBusiness(h.app.services.orm.em, { phone: '+97233824999', name: 'עסק אחר' });
    otherBusinessId = other.id;
    keyB = (await issueApiKey(h.app.services.orm.em.fork(), { businessId: other.id, role: 'admin', name: 'other' })).key;
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await h?.stop();
  });
  const open = (key: string | null) => {
    const c = client(h, key);
    clients.push(c);
    return c;
  };

  it('streams a call’s list entry and its events to its business, and nothing to another business', async () => {
    const a = open(keyA);
    const b = open(keyB);
    const listA = collect(a, 'subscription { liveCalls { type callSid call { status } } }');
    const listB = collect(b, 'subscription { liveCalls { type callSid } }');
    // Both subscriptions reach the bus before the call starts.
    await busListeners(h.app.services.bus, 'business:calls', h.business.id);
    await busListeners(h.app.services.bus, 'business:calls', otherBusinessId);

    const { caller, session, callSid } = await placeCall(h, 'CA00000000000000000000000000000901');
    const call = await h.app.services.orm.em.fork().findOneOrFail(Call, { callSid });
    const eventsA = collect(a, 'subscription($id: ID!) { callEvents(callId: $id) { type callId at data } }', { id: call.id });
    const spyB = collect(b, 'subscription($id: ID!) { callEvents(callId: $id) { type } }', { id: call.id });
    await busListeners(h.app.services.bus, 'call:events', call.id);
    session.script({ replies: [{ text: 'שלום שרה' }, { text: 'בשמחה' }], callerTranscripts: ['אני רוצה תור'] });
    caller.start();
    await eventually(() => caller.heardMs(), (ms) => ms >= 400, 'the greeting');
    await caller.play(loadFixture('caller-booking'), { pace: 'instant' });
    await caller.silence(800, { pace: 'instant' });
    await eventually(() => eventsA.results.filter((r) => r.data?.callEvents.type === 'transcript.turn').length, (n) => n >= 3, 'the turns', 15_000);

    const types = eventsA.results.map((r) => r.data?.callEvents.type);
    expect(types).toEqual(expect.arrayContaining(['transcript.delta', 'transcript.turn', 'speech.started', 'speech.stopped']));
    const callerTurn = eventsA.results.find((r) => r.data?.callEvents.type === 'transcript.turn' && r.data.callEvents.data.turn.speaker === 'caller');
    expect(callerTurn?.data?.callEvents).toMatchObject({ callId: call.id, data: { turn: { text: 'אני רוצה תור' } } });
    await eventually(() => listA.results.map((r) => r.data?.liveCalls.type), (seen) => seen.includes('call.started'), 'call.started in the list');
    expect(listA.results.find((r) => r.data?.liveCalls.type === 'call.started')?.data?.liveCalls).toMatchObject({ callSid });

    caller.stop();
    await caller.closed;
    await eventually(() => listA.results.map((r) => r.data?.liveCalls.type), (seen) => seen.includes('call.ended'), 'call.ended in the list');
    // Business B saw nothing of A's call: its list is silent and A's call id is "not found".
    expect(listB.results).toEqual([]);
    expect(spyB.results).toEqual([{ errors: [expect.objectContaining({ message: 'No call with that id.', extensions: { code: 'NOT_FOUND' } })] }]);
    for (const s of [listA, listB, eventsA, spyB]) s.stop();
  });

  it('starts a console with the calls already in progress', async () => {
    const { caller, callSid } = await placeCall(h, 'CA00000000000000000000000000000902');
    caller.start();
    await eventually(async () => (await h.app.services.orm.em.fork().findOneOrFail(Call, { callSid })).status, () => true, 'the call row');
    await h.app.services.orm.em.fork().nativeUpdate(Call, { callSid }, { status: 'in-progress' });
    const list = collect(open(keyA), 'subscription { liveCalls { type callSid call { status } } }');
    await eventually(() => list.results.length, (n) => n >= 1, 'the current list');
    expect(list.results[0]?.data?.liveCalls).toMatchObject({ type: 'call.live', callSid, call: { status: 'IN_PROGRESS' } });
    list.stop();
    caller.stop();
    await caller.closed;
  });

  it('misses no call that starts while the console reads the calls in progress (regression: the bus listener came after the read)', async () => {
    const em = h.app.services.orm.em.fork();
    const started: CallLifecycleEvent = { type: 'call.started', callId: randomUUID(), callSid: 'CA00000000000000000000000000000904', direction: 'inbound', at: new Date().toISOString() };
    let list: ReturnType<typeof collect> | undefined;
    // Hold the console's read of the current list (a lock on the calls table), announce a
    // call while it waits, then let it finish: the call must still reach the console.
    await em.transactional(async (tx) => {
      await tx.execute('lock table calls in access exclusive mode');
      list = collect(open(keyA), 'subscription { liveCalls { type callSid } }');
      await eventually(
        async () => (await h.app.services.orm.em.fork().execute<{ n: number }[]>("select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and query ilike '%from \"calls\"%'"))[0]!.n,
        (n) => n >= 1,
        'the console reading the calls in progress, held by the lock',
      );
      h.app.services.bus.publish('business:calls', h.business.id, started);
    });
    await eventually(() => list!.results.map((r) => r.data?.liveCalls.callSid), (seen) => seen.includes(started.callSid), 'the call announced during the read');
    list!.stop();
  });

  it('refuses a connection without a valid key', async () => {
    for (const key of [null, 'cw_not-a-real-key']) {
      const s = collect(open(key), 'subscription { liveCalls { type } }');
      await eventually(() => s.errors.length, (n) => n === 1, 'the refusal');
      expect(s.errors[0]).toMatchObject({ code: 4403 });
    }
  });

  it('carries supervisor actions to the call and records them: whisper, then hang up; a call not live is not acted on', async () => {
    const supervisor = (await issueApiKey(h.app.services.orm.em.fork(), { businessId: h.business.id, role: 'supervisor', name: 'floor' })).key;
    const { caller, session, callSid } = await placeCall(h, 'CA00000000000000000000000000000903');
    session.script({ replies: [{ text: 'שלום' }] });
    caller.start();
    await session.waitForReceived('response.create');
    const call = await h.app.services.orm.em.fork().findOneOrFail(Call, { callSid });
    const ask = (key: string, query: string, variables: Record<string, unknown>) => graphql(h.app.url, key, query, variables);

    const whisper = await ask(supervisor, 'mutation($id: ID!) { whisperToAgent(callId: $id, text: "הצע לה הנחה של 10%") { __typename ... on SupervisorActionResult { acted error } } }', { id: call.id });
    expect(whisper.data?.whisperToAgent).toEqual({ __typename: 'SupervisorActionResult', acted: true, error: null });
    const item = await session.waitForReceived('conversation.item.create');
    expect(JSON.stringify(item)).toContain('הצע לה הנחה של 10%');
    // Nothing is said because of it: no new response was asked for.
    expect(session.responseRequests).toHaveLength(1);

    const viewer = await ask(keyA, 'mutation($id: ID!) { hangUpCall(callId: $id) { __typename } }', { id: call.id });
    expect(viewer.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const hangUp = await ask(supervisor, 'mutation($id: ID!) { hangUpCall(callId: $id) { ... on SupervisorActionResult { acted } } }', { id: call.id });
    expect(hangUp.data?.hangUpCall).toEqual({ acted: true });
    const request = await h.twilioApi.waitForRequest((r) => r.method === 'POST' && r.path.endsWith(`/Calls/${callSid}.json`));
    expect(request.params.Status).toBe('completed');
    const row = await endedCall(h, callSid);
    expect(row.endReason).toBe('hung up by a supervisor');
    expect(row.timeline.filter((event) => event.type === 'supervisor.action')).toMatchObject([
      { action: 'whisper', detail: 'הצע לה הנחה של 10%', acted: true },
      { action: 'hangup', acted: true },
    ]);

    const late = await ask(supervisor, 'mutation($id: ID!) { transferCall(callId: $id, to: "050-999-8877") { ... on SupervisorActionResult { acted error } } }', { id: call.id });
    expect(late.data?.transferCall).toEqual({ acted: false, error: 'the call has ended (completed)' });
    caller.stop();
    await caller.closed;
  });

  it('lets a supervisor listen in on both sides, in order; a stalled listener does not hold up the call', async () => {
    const supervisor = (await issueApiKey(h.app.services.orm.em.fork(), { businessId: h.business.id, role: 'supervisor', name: 'ears' })).key;
    const { caller, session, callSid } = await placeCall(h, 'CA00000000000000000000000000000904');
    session.script({ replies: [{ text: 'שלום' }, { text: 'בשמחה רבה' }], callerTranscripts: ['אני רוצה תור'] });
    caller.start();
    await session.waitForReceived('response.create');
    const call = await h.app.services.orm.em.fork().findOneOrFail(Call, { callSid });

    const listener = collect(open(supervisor), 'subscription($id: ID!) { callAudio(callId: $id) { track seq payload } }', { id: call.id });
    // A second listener whose socket stops reading: its buffer fills, nobody else notices.
    const stalledSocket = new WebSocket(`${h.app.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
    await new Promise((resolve) => stalledSocket.once('open', resolve));
    stalledSocket.send(JSON.stringify({ type: 'connection_init', payload: { apiKey: supervisor } }));
    await new Promise((resolve) => stalledSocket.once('message', resolve));
    stalledSocket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: 'subscription($id: ID!) { callAudio(callId: $id) { payload } }', variables: { id: call.id } } }));
    // Both listeners are on the bus before the stalled one stops reading.
    await busListeners(h.app.services.bus, 'call:audio', call.id, 2);
    (stalledSocket as unknown as { _socket: { pause(): void } })._socket.pause();

    const speech = loadFixture('caller-booking');
    await caller.play(speech, { pace: 'instant' });
    await caller.silence(800, { pace: 'instant' });
    const sentMs = caller.sent.filter((message) => message.event === 'media').length * 20;
    await eventually(() => session.inputAudioMs, (ms) => ms === sentMs, 'all caller audio at OpenAI');
    await eventually(() => listener.results.filter((r) => r.data?.callAudio.track === 'CALLER').length, (n) => n >= speech.length / 160, 'the caller track', 15_000);
    await eventually(() => listener.results.some((r) => r.data?.callAudio.track === 'AGENT'), Boolean, 'the agent track');

    const callerChunks = listener.results.map((r) => r.data?.callAudio).filter((chunk) => chunk?.track === 'CALLER');
    expect(callerChunks.map((chunk) => chunk.seq)).toEqual(callerChunks.map((_chunk, index) => callerChunks[0].seq + index));
    const heard = Buffer.concat(callerChunks.map((chunk) => Buffer.from(chunk.payload, 'base64')));
    expect(heard.includes(speech.subarray(0, 1600))).toBe(true);
    // Both listeners count in /metrics while they listen, and no longer once they leave.
    expect(h.app.services.metrics.level('audio_listeners')).toBe(2);

    listener.stop();
    stalledSocket.terminate();
    await eventually(() => h.app.services.metrics.level('audio_listeners'), (n) => n === 0, 'the listeners gone from audio_listeners');
    caller.stop();
    await caller.closed;
  });

  it('lets a supervisor listen from before the call is live (regression: the call never heard of a listener that came first, and sent no audio)', async () => {
    const supervisor = (await issueApiKey(h.app.services.orm.em.fork(), { businessId: h.business.id, role: 'supervisor', name: 'early ears' })).key;
    const callSid = 'CA00000000000000000000000000000905';
    const sessionsBefore = h.openai.sessions.length;
    const { token } = await answerCall(h, callSid);
    const call = await h.app.services.orm.em.fork().findOneOrFail(Call, { callSid });
    const announcements = h.app.services.bus.subscribe('call:listeners', call.id)[Symbol.asyncIterator]();
    const listener = collect(open(supervisor), 'subscription($id: ID!) { callAudio(callId: $id) { track } }', { id: call.id });
    // The listener says so on the bus before the stream even connects.
    expect((await announcements.next()).done).toBe(false);
    await announcements.return?.();
    const caller = await connectCaller(h, callSid, token);
    const session = h.openai.sessions[sessionsBefore]!;
    session.script({ replies: [{ text: 'שלום' }] });
    caller.start();
    await eventually(() => listener.results.some((r) => r.data?.callAudio.track === 'AGENT'), Boolean, 'the agent track');
    listener.stop();
    caller.stop();
    await caller.closed;
  });

  it('streams over SSE too, with the key in the Authorization header', async () => {
    const controller = new AbortController();
    const response = await fetch(`${h.app.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${keyA}` },
      body: JSON.stringify({ query: 'subscription { liveCalls { type callSid } }' }),
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const reader = response.body!.getReader();
    const { caller, callSid } = await placeCall(h, 'CA00000000000000000000000000000906');
    caller.start();
    let text = '';
    while (!text.includes(callSid)) text += new TextDecoder().decode((await reader.read()).value);
    expect(text).toMatch(/event: next\ndata: \{"data":\{"liveCalls":\{"type":"call\.(live|started)","callSid":"CA0+906"\}\}\}/);
    controller.abort();
    await reader.cancel().catch(() => {});
    caller.stop();
    await caller.closed;
  });
});
