import { describe, expect, it } from 'vitest';
import { agentSettings, answerCall, connectCaller, endedCall, eventually, placeCall, useCallHarness, type CallHarness } from '../support/calls.ts';

/**
 * The voice agent that never comes up. Regression: a Realtime model OpenAI refuses (retired,
 * mistyped, not on this account) — or a session that never opens — ended the call with
 * `openai closed`: the caller heard silence, then a hang-up, and the call looked completed.
 * Now it is handled like a lost agent: the caller is transferred or hears the apology, and
 * the call is `failed` with the reason.
 */

let sequence = 1900;
const nextSid = () => `CA${String(++sequence).padStart(32, '0')}`;

const callUpdate = (harness: CallHarness, callSid: string) =>
  harness.twilioApi.waitForRequest((request) => request.method === 'POST' && request.path.endsWith(`/Calls/${callSid}.json`), 15_000);

/** The caller heard the apology through Twilio; the call was written failed, with `reason` in `endReason`. */
async function expectApologised(harness: CallHarness, callSid: string, reason: RegExp | string) {
  const apology = await callUpdate(harness, callSid);
  expect(apology.params.Twiml).toMatch(/<Say language="he-IL"[^>]*>מצטערים, יש לנו תקלה טכנית/);
  const row = await endedCall(harness, callSid);
  expect(row.status).toBe('failed');
  expect(row.endReason).toMatch(reason);
  return row;
}

/** The voice webhook, then the stream's start, without waiting for an OpenAI session (there will be none). */
async function placeFailingCall(harness: CallHarness) {
  const callSid = nextSid();
  const refusedBefore = harness.openai.refused.length;
  const { token } = await answerCall(harness, callSid);
  const caller = await connectCaller(harness, callSid, token);
  caller.start();
  return { caller, callSid, refusedBefore };
}

describe('a Realtime model OpenAI refuses', () => {
  const h = useCallHarness();

  it('at the upgrade: the caller hears the apology, and the call is failed with the reason', async () => {
    const model = h.app.services.config.openai.realtimeModel;
    h.openai.refuseModel(model, 'upgrade');
    const { caller, callSid, refusedBefore } = await placeFailingCall(h);

    const row = await expectApologised(h, callSid, /^voice agent unavailable: OpenAI refused the connection \(Unexpected server response: 404\)/);
    expect(row.timeline.map((event) => event.type)).toContain('agent.failure');
    // The webhook's pre-open and the stream's own try.
    expect(h.openai.refused.length - refusedBefore).toBe(2);
    caller.stop();
    await caller.closed;
  });

  it('with an error event after the upgrade: the same, with OpenAI’s words in the reason', async () => {
    const model = h.app.services.config.openai.realtimeModel;
    h.openai.refuseModel(model, 'event');
    const { caller, callSid } = await placeFailingCall(h);

    await expectApologised(h, callSid, /does not exist or you do not have access to it/);
    caller.stop();
    await caller.closed;
  });
});

describe('a Realtime session that accepts the connection and never answers', () => {
  const h = useCallHarness();

  it('is given up after the connect timeout, not left in silence (regression: an open socket counted as a session that came up)', async () => {
    h.openai.refuseModel(h.app.services.config.openai.realtimeModel, 'silence');
    const { caller, callSid } = await placeFailingCall(h);

    await expectApologised(h, callSid, /^voice agent unavailable: the OpenAI session did not come up in time$/);
    caller.stop();
    await caller.closed;
  });
});

describe('a Realtime session that never comes up, with a transfer number', () => {
  const h = useCallHarness({ transferNumber: '+972529998877' });

  it('hands the caller to a person after the connect timeout', async () => {
    await agentSettings(h, { transferNumber: '+972529998877' });
    const release = h.openai.holdConnections();
    const { caller, callSid } = await placeFailingCall(h);

    const transfer = await callUpdate(h, callSid);
    expect(transfer.params.Twiml).toMatch(/<Dial answerOnBridge="true">\+972529998877<\/Dial>/);
    const row = await endedCall(h, callSid);
    expect(row.status).toBe('failed');
    expect(row.endReason).toBe('voice agent unavailable: the OpenAI session did not come up in time');
    expect(row.timeline.find((event) => event.type === 'call.transfer')).toMatchObject({ ok: true, reason: 'voice agent unavailable' });
    release();
    caller.stop();
    await caller.closed;
  });

  it('still works for the next call once OpenAI answers again', async () => {
    const { caller, session, callSid } = await placeCall(h, nextSid());
    session.script({ replies: [{ text: 'שלום' }] });
    caller.start();
    await eventually(() => caller.heardMs(), (ms) => ms >= 500, 'the greeting');
    caller.stop();
    await caller.closed;
    expect((await endedCall(h, callSid)).status).toBe('completed');
  });
});
