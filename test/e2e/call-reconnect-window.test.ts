import { describe, expect, it } from 'vitest';
import type { CallEvent } from '../../src/core/events.ts';
import { issueApiKey } from '../../src/entities/api-key.repository.ts';
import { Call } from '../../src/entities/call.entity.ts';
import { freeSlots } from '../../src/core/business-hours.ts';
import { defaultWorkingHours } from '../../src/entities/business-settings.entity.ts';
import { instantToLocal } from '../../src/realtime/agent/tools/availability.ts';
import { fixtureText, loadFixture } from '../../src/sandbox/fixtures.ts';
import { agentSettings, endedCall, eventually, placeCall, useCallHarness, type CallHarness } from '../support/calls.ts';
import { graphql } from '../support/graphql.ts';

/**
 * Regression: the agent sent on an OpenAI socket that was still CONNECTING. During a
 * reconnect the session's socket is a new one, not open for up to 5 s; `ws` throws on
 * `send` then, and the silence reprompt, a tool result or a supervisor's whisper fired in
 * that window threw from a timer or a promise — taking the whole process, every call on
 * it, down. Now whatever the agent sends meanwhile waits, and reaches the new session once
 * it is configured, in a form that session understands.
 */

let sequence = 1500;
const nextSid = () => `CA${String(++sequence).padStart(32, '0')}`;

/** Every event the call publishes from now on (the test shares the app's process and bus). */
function watchEvents(harness: CallHarness, callId: string): { events: CallEvent[]; stop: () => void } {
  const events: CallEvent[] = [];
  const iterator = harness.app.services.bus.subscribe('call:events', callId)[Symbol.asyncIterator]();
  void (async () => {
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) events.push(next.value);
  })();
  return { events, stop: () => void iterator.return?.() };
}

const callIdOf = async (harness: CallHarness, callSid: string) => (await harness.app.services.orm.em.fork().findOneOrFail(Call, { callSid })).id;

describe('sends while the OpenAI session reconnects', () => {
  const h = useCallHarness();

  it('holds a booking result and a whisper until the new session is configured, then sends them as items it knows, and one response', async () => {
    const [slot] = freeSlots({ now: new Date(), days: 7, timeZone: 'Asia/Jerusalem', workingHours: defaultWorkingHours, slotMinutes: 30, booked: [] });
    const start = instantToLocal(slot!.start, 'Asia/Jerusalem');
    const { caller, session, callSid } = await placeCall(h, nextSid());
    session.script({ replies: [{ text: 'שלום' }, { toolCall: { name: 'book_appointment', arguments: { start } } }], callerTranscripts: [fixtureText('caller-booking')] });
    caller.start();
    await eventually(() => caller.heardMs(), (ms) => ms >= 500, 'the greeting');
    const callId = await callIdOf(h, callSid);
    const watched = watchEvents(h, callId);
    const supervisor = (await issueApiKey(h.app.services.orm.em.fork(), { businessId: h.business.id, role: 'supervisor', name: 'floor' })).key;

    // The booking's insert waits on a lock the test holds, so its result comes back only
    // once the session is reconnecting.
    let releaseBookings = () => {};
    const bookingsHeld = new Promise<void>((resolve) => (releaseBookings = resolve));
    let locked = () => {};
    const lockTaken = new Promise<void>((resolve) => (locked = resolve));
    const lock = h.app.services.orm.em.fork().transactional(async (em) => {
      await em.execute('lock table "appointments" in exclusive mode');
      locked();
      await bookingsHeld;
    });
    await lockTaken;

    await caller.play(loadFixture('caller-booking'), { pace: 'instant' });
    await caller.silence(800, { pace: 'instant' });
    await eventually(() => watched.events.filter((event) => event.type === 'tool.called').length, (n) => n === 1, 'the booking to start');
    const sessionsBefore = h.openai.sessions.length;
    const releaseConnections = h.openai.holdConnections();
    session.drop();
    await eventually(() => watched.events.filter((event) => event.type === 'agent.failure').length, (n) => n === 1, 'the session to notice the drop');

    releaseBookings();
    await lock;
    await eventually(() => watched.events.filter((event) => event.type === 'tool.result').length, (n) => n === 1, 'the booking result');
    const whisper = await graphql(h.app.url, supervisor, 'mutation($id: ID!) { whisperToAgent(callId: $id, text: "תציע גם יום ראשון") { ... on SupervisorActionResult { acted error } } }', { id: callId });
    expect(whisper.data?.whisperToAgent).toEqual({ acted: true, error: null });

    releaseConnections();
    await eventually(() => h.openai.sessions.length, (n) => n === sessionsBefore + 1, 'the reconnect');
    const resumed = h.openai.sessions[sessionsBefore]!;
    resumed.script({ replies: [{ text: 'קבעתי לך תור' }] });
    await resumed.waitForReceived('response.create');
    await eventually(() => resumed.responseRequests.length, (n) => n === 1, 'the resumed response');
    const types = resumed.received.map((event) => event.type);
    const firstResponse = types.indexOf('response.create');
    expect(types[0]).toBe('session.update');
    expect(new Set(types.slice(1, firstResponse))).toEqual(new Set(['conversation.item.create']));
    const items = resumed.received.slice(1, firstResponse).map((event) => JSON.stringify(event));
    // The conversation restored as items, in order: the greeting, the caller's turn, then the
    // booking's result as a note (the new session never saw the old one's function call), then the whisper.
    const at = (pattern: RegExp) => items.findIndex((item) => pattern.test(item));
    expect(at(/"role":"assistant".*שלום/)).toBeGreaterThan(0);
    expect(at(/"role":"user"/)).toBeGreaterThan(at(/"role":"assistant".*שלום/));
    expect(at(/book_appointment.*booked/)).toBeGreaterThan(at(/"role":"user"/));
    expect(at(/תציע גם יום ראשון/)).toBeGreaterThan(at(/book_appointment.*booked/));
    expect(items.filter((item) => /booked/.test(item))).toHaveLength(1);
    expect(resumed.sent.filter((event) => event.type === 'error')).toEqual([]);
    expect(resumed.responseRequests).toHaveLength(1);

    caller.stop();
    await caller.closed;
    const row = await endedCall(h, callSid);
    watched.stop();
    expect(row.status).toBe('completed');
    expect(row.timeline.filter((event) => event.type === 'agent.failure')).toMatchObject([{ recovered: false }, { recovered: true }]);
    expect(row.timeline.find((event) => event.type === 'tool.result')).toMatchObject({ name: 'book_appointment', failed: false });
    expect(row.timeline.find((event) => event.type === 'supervisor.action')).toMatchObject({ action: 'whisper', acted: true });
  });
});

describe('timers that fire while the OpenAI session reconnects', () => {
  const h = useCallHarness({ silenceTimeoutSec: 1, silenceReprompts: 2 });

  it('folds the silence reprompt into the resumed session’s one response', async () => {
    const { caller, session, callSid } = await placeCall(h, nextSid());
    session.script({ replies: [{ text: 'שלום' }] });
    caller.start();
    await eventually(() => caller.heardMs(), (ms) => ms >= 500, 'the greeting');
    await eventually(() => caller.returnedMarks().length, (n) => n >= 1, 'the greeting’s mark');
    const callId = await callIdOf(h, callSid);
    const watched = watchEvents(h, callId);
    const sessionsBefore = h.openai.sessions.length;
    const releaseConnections = h.openai.holdConnections();
    session.drop();
    // A second of silence passes with the reconnect held: the watchdog reprompts.
    await eventually(() => watched.events.filter((event) => event.type === 'watchdog.reprompt').length, (n) => n === 1, 'the reprompt', 5_000);

    releaseConnections();
    await eventually(() => h.openai.sessions.length, (n) => n === sessionsBefore + 1, 'the reconnect');
    const resumed = h.openai.sessions[sessionsBefore]!;
    resumed.script({ replies: [{ text: 'הלו?' }] });
    await eventually(() => resumed.responseRequests.length, (n) => n === 1, 'the resumed response');
    expect(resumed.responseRequests[0]?.instructions).toMatch(/Apologise.*still on the line/s);
    expect(resumed.sent.filter((event) => event.type === 'error')).toEqual([]);

    caller.stop();
    await caller.closed;
    const row = await endedCall(h, callSid);
    watched.stop();
    expect(row.status).toBe('completed');
  });
});

describe('an unexpected exception inside one call', () => {
  const h = useCallHarness();

  it('ends that call — written, failed, the caller hears the apology — and no other', async () => {
    await agentSettings(h, {});
    const broken = await placeCall(h, nextSid());
    const healthy = await placeCall(h, nextSid());
    for (const call of [broken, healthy]) {
      call.session.script({ replies: [{ text: 'שלום' }] });
      call.caller.start();
    }
    await eventually(() => broken.caller.heardMs(), (ms) => ms >= 500, 'the greeting');
    // A handler throws on this call's caller turns — as any bug of ours could. (Events are
    // parsed at the boundary, so a malformed one no longer gets this far: the bug is
    // planted in what the handler calls, the bus.)
    const brokenCallId = await callIdOf(h, broken.callSid);
    const bus = h.app.services.bus;
    const publish = bus.publish.bind(bus);
    const planted = (channel: string, id: string, event: unknown) => {
      if (id === brokenCallId && (event as { type?: string }).type === 'transcript.turn') throw new Error('a bug in a handler');
      return (publish as (channel: string, id: string, event: unknown) => void)(channel, id, event);
    };
    bus.publish = planted as typeof bus.publish;
    // Twice in a row: the second must not cut the apology short (regression: it ended the
    // call at once, closing the stream while the apology was on its way to Twilio).
    for (const itemId of ['item_x', 'item_y']) {
      broken.session.send({ type: 'conversation.item.input_audio_transcription.completed', event_id: `event_${itemId}`, item_id: itemId, content_index: 0, transcript: 'שלום', usage: { type: 'duration', seconds: 1 } });
    }

    const apology = await h.twilioApi.waitForRequest((request) => request.method === 'POST' && request.path.endsWith(`/Calls/${broken.callSid}.json`), 10_000);
    expect(apology.params.Twiml).toMatch(/<Say language="he-IL"[^>]*>מצטערים/);
    const row = await endedCall(h, broken.callSid);
    expect(row.status).toBe('failed');
    expect(row.endReason).toMatch(/^voice agent unavailable: internal error/);
    expect(h.app.services.metrics.get('call_handler_errors_total')).toBeGreaterThanOrEqual(1);
    bus.publish = publish;

    // The other call on the same process goes on.
    await healthy.caller.play(loadFixture('caller-booking'), { pace: 'instant' });
    await healthy.caller.silence(800, { pace: 'instant' });
    await healthy.session.waitForReceived('input_audio_buffer.append');
    healthy.caller.stop();
    await healthy.caller.closed;
    expect((await endedCall(h, healthy.callSid)).status).toBe('completed');
    broken.caller.stop();
    await broken.caller.closed;
  });
});
