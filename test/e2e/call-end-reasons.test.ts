import { beforeAll, describe, expect, it } from 'vitest';
import { issueApiKey } from '../../src/entities/api-key.repository.ts';
import { Call } from '../../src/entities/call.entity.ts';
import { fixtureText, loadFixture } from '../../src/sandbox/fixtures.ts';
import type { SessionScript } from '../../src/sandbox/openai-realtime.server.ts';
import { agentSettings, answerCall, endedCall, eventually, placeCall, useCallHarness, type CallHarness, type PlacedCall } from '../support/calls.ts';
import { graphql } from '../support/graphql.ts';

/**
 * Why a call ended is what Callwatch stores (Call.endReason), even though Twilio ends the
 * media stream of every call Callwatch hangs up or redirects — here at the worst moment:
 * the stream's `stop` and close reach Callwatch BEFORE the answer to its own REST update
 * (regression, issue 17 / review D6: the stop won, and "twilio stop" was stored instead).
 */

let sequence = 1700;
const nextSid = () => `CA${String(++sequence).padStart(32, '0')}`;

const updateOf = (harness: CallHarness, callSid: string) =>
  harness.twilioApi.waitForRequest((request) => request.method === 'POST' && request.path.endsWith(`/Calls/${callSid}.json`), 15_000);

/** The call row once written, and the stream Twilio ended. */
async function ended(harness: CallHarness, placed: PlacedCall): Promise<Call> {
  const row = await endedCall(harness, placed.callSid);
  await placed.caller.closed;
  return row;
}

/** Places a call whose agent greets, then hears the caller say one sentence and answers with `replies`. */
async function converse(harness: CallHarness, replies: NonNullable<SessionScript['replies']>): Promise<PlacedCall> {
  const placed = await placeCall(harness, nextSid());
  placed.session.script({ callerTranscripts: [fixtureText('caller-booking')], replies: [{ text: 'שלום' }, ...replies] });
  placed.caller.start();
  await eventually(() => placed.caller.heardMs(), (ms) => ms >= 450, 'the greeting');
  await placed.caller.play(loadFixture('caller-booking'), { pace: 'instant' });
  await placed.caller.silence(800, { pace: 'instant' });
  return placed;
}

describe('end reasons, with Twilio’s stream stopping before its REST answer', () => {
  const h = useCallHarness({ transferNumber: '+972529998877' }, { statusCallback: true });
  beforeAll(() => h.twilioApi.stopStreams('before-response'));

  it('stores the agent’s end_call reason', async () => {
    const call = await converse(h, [{ toolCall: { name: 'end_call', arguments: { reason: 'the caller said goodbye' } } }]);
    expect((await updateOf(h, call.callSid)).params.Status).toBe('completed');
    const row = await ended(h, call);
    expect(row).toMatchObject({ status: 'completed', endReason: 'the caller said goodbye' });
    expect(row.timeline.at(-1)).toMatchObject({ type: 'call.ended', reason: 'the caller said goodbye', status: 'completed' });
  });

  it('stores "caller silent" after the goodbye to a silent caller', async () => {
    await agentSettings(h, { transferNumber: '+972529998877', silenceTimeoutSec: 1, silenceReprompts: 0 });
    try {
      const call = await placeCall(h, nextSid());
      call.session.script({ replies: [{ text: 'שלום' }, { text: 'תודה ולהתראות' }] });
      call.caller.start();
      expect((await updateOf(h, call.callSid)).params.Status).toBe('completed');
      expect(await ended(h, call)).toMatchObject({ status: 'completed', endReason: 'caller silent' });
    } finally {
      await agentSettings(h, { transferNumber: '+972529998877' });
    }
  });

  it('stores "maximum call duration" when the time limit closes the call', async () => {
    await agentSettings(h, { transferNumber: '+972529998877', maxCallDurationSec: 2 });
    try {
      const call = await placeCall(h, nextSid());
      call.session.script({ replies: [{ text: 'שלום' }, { text: 'הגענו לסוף הזמן, להתראות' }] });
      call.caller.start();
      expect((await updateOf(h, call.callSid)).params.Status).toBe('completed');
      expect(await ended(h, call)).toMatchObject({ status: 'completed', endReason: 'maximum call duration' });
    } finally {
      await agentSettings(h, { transferNumber: '+972529998877' });
    }
  });

  it('stores "transferred", with the call.transfer event in the stored timeline', async () => {
    const call = await converse(h, [{ toolCall: { name: 'transfer_to_human', arguments: { reason: 'wants a person' } } }]);
    expect((await updateOf(h, call.callSid)).params.Twiml).toMatch(/<Dial answerOnBridge="true">\+972529998877<\/Dial>/);
    const row = await ended(h, call);
    expect(row).toMatchObject({ status: 'completed', endReason: 'transferred' });
    expect(row.timeline.find((event) => event.type === 'call.transfer')).toMatchObject({ to: '+972529998877', ok: true, reason: 'wants a person' });
    // Twilio keeps the call: the caller talks to the person now.
    expect(h.twilioApi.calls.get(call.callSid)?.status).toBe('in-progress');
  });

  it('stores "hung up by a supervisor", with the supervisor’s action in the stored timeline', async () => {
    const supervisor = (await issueApiKey(h.app.services.orm.em.fork(), { businessId: h.business.id, role: 'supervisor', name: 'floor' })).key;
    const call = await placeCall(h, nextSid());
    call.session.script({ replies: [{ text: 'שלום' }] });
    call.caller.start();
    await call.session.waitForReceived('response.create');
    const { id } = await h.app.services.orm.em.fork().findOneOrFail(Call, { callSid: call.callSid });
    const answer = await graphql(h.app.url, supervisor, 'mutation($id: ID!) { hangUpCall(callId: $id) { ... on SupervisorActionResult { acted error } } }', { id });
    expect(answer.data?.hangUpCall).toEqual({ acted: true, error: null });
    const row = await ended(h, call);
    expect(row).toMatchObject({ status: 'completed', endReason: 'hung up by a supervisor' });
    expect(row.timeline.filter((event) => event.type === 'supervisor.action')).toMatchObject([{ action: 'hangup', acted: true }]);
  });

  it('stores "caller hung up" when the caller does, and Twilio’s final status callback leaves the session’s times alone', async () => {
    const call = await placeCall(h, nextSid());
    call.session.script({ replies: [{ text: 'שלום' }] });
    call.caller.start();
    await call.session.waitForReceived('response.create');
    await h.twilioApi.hangUp(call.callSid);
    const row = await ended(h, call);
    expect(row).toMatchObject({ status: 'completed', endReason: 'caller hung up' });
    expect(h.twilioApi.requests.some((request) => request.method === 'POST' && request.path.endsWith(`/Calls/${call.callSid}.json`))).toBe(false);
    const callback = await h.twilioApi.waitForCallback((c) => c.callSid === call.callSid && c.params.CallStatus === 'completed');
    expect(callback.status).toBe(204);
    expect(await h.app.services.orm.em.fork().findOneOrFail(Call, { callSid: call.callSid })).toMatchObject({ endedAt: row.endedAt, durationSec: row.durationSec, endReason: 'caller hung up' });
  });

  it('takes the end time and duration from Twilio’s final status when no session wrote them (its process died)', async () => {
    const callSid = nextSid();
    // Twilio connected the call, but no media stream ever reached a session.
    await answerCall(h, callSid);
    await h.twilioApi.hangUp(callSid);
    await h.twilioApi.waitForCallback((c) => c.callSid === callSid && c.params.CallStatus === 'completed');
    const row = await h.app.services.orm.em.fork().findOneOrFail(Call, { callSid });
    expect(row).toMatchObject({ status: 'completed', endedAt: expect.any(Date), durationSec: 0, endReason: null });
  });
});

describe('end reasons: the voice agent lost for good, with the stream stopping before the REST answer', () => {
  const h = useCallHarness();
  beforeAll(() => h.twilioApi.stopStreams('before-response'));

  it('stores "voice agent unavailable: …", and call.ended says failed', async () => {
    const call = await placeCall(h, nextSid());
    call.session.script({ replies: [{ text: 'שלום' }] });
    call.caller.start();
    await eventually(() => call.caller.heardMs(), (ms) => ms >= 450, 'the greeting');
    // OpenAI is gone: this session drops and nothing answers the reconnect.
    await h.openai.close();
    expect((await updateOf(h, call.callSid)).params.Twiml).toMatch(/<Hangup\/>/);
    const row = await ended(h, call);
    expect(row.status).toBe('failed');
    expect(row.endReason).toMatch(/^voice agent unavailable: /);
    expect(row.timeline.at(-1)).toMatchObject({ type: 'call.ended', status: 'failed' });
  });
});
