import { describe, expect, it } from 'vitest';
import { SimulatedCaller } from '../../src/sandbox/simulated-caller.ts';
import { endedCall, eventually, placeCall, sarahsNumber, businessNumber, useCallHarness, type CallHarness } from '../support/calls.ts';
import { inboundCallParams, postTwilioWebhook, twilioAccountSid } from '../support/twilio.ts';

/**
 * Threat (security review F5): whoever sees a stream token (TwiML logged by a proxy) or one
 * signed voice request could open further billable OpenAI sessions on a call, live or
 * ended, and overwrite its stored transcript and outcome. A token is bound to the first
 * media socket that presents it; a call that ended gets no token at all.
 */

let sequence = 1800;
const nextSid = () => `CA${String(++sequence).padStart(32, '0')}`;

/** A media socket presenting `token` for `callSid`, not known to the Twilio stand-in as the call's stream. */
function replayer(harness: CallHarness, callSid: string, token: string): Promise<SimulatedCaller> {
  return SimulatedCaller.connect(`${harness.app.url.replace('http', 'ws')}/twilio/media`, { callSid, accountSid: twilioAccountSid, customParameters: { token } });
}

/**
 * How a replaying socket fares once it sent `start`: closed (with its code and reason), or
 * given an OpenAI session of its own (what the old code did) — whichever happens first.
 */
async function fate(harness: CallHarness, socket: SimulatedCaller): Promise<{ code: number; reason: string } | string> {
  const sessionsBefore = harness.openai.sessions.length;
  let settled = false;
  const opened = (async () => {
    while (!settled) {
      if (harness.openai.sessions.length > sessionsBefore) return 'opened another OpenAI session';
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return 'closed';
  })();
  socket.start();
  const outcome = await Promise.race([socket.closed, opened]);
  settled = true;
  return outcome;
}

/** A call that ran and ended normally; returns its sid and the token its stream presented. */
async function finishedCall(harness: CallHarness): Promise<{ callSid: string; token: string }> {
  const { caller, session, callSid, token } = await placeCall(harness, nextSid());
  session.script({ replies: [{ text: 'שלום' }] });
  caller.start();
  await eventually(() => caller.heardMs(), (ms) => ms >= 200, 'the greeting');
  caller.stop();
  await caller.closed;
  expect((await endedCall(harness, callSid)).status).toBe('completed');
  return { callSid, token };
}

describe('a stream token is single-use', () => {
  const h = useCallHarness();
  const reused = () => h.app.services.metrics.get('media_token_reused_total');

  it('refuses a second socket presenting the token of a live call (1008), with no second OpenAI session', async () => {
    const { caller, session, callSid, token } = await placeCall(h, nextSid());
    session.script({ replies: [{ text: 'שלום' }] });
    caller.start();
    await eventually(() => caller.heardMs(), (ms) => ms >= 200, 'the greeting');
    const sessionsBefore = h.openai.sessions.length;
    const reusedBefore = reused();

    const second = await replayer(h, callSid, token);
    expect(await fate(h, second)).toEqual({ code: 1008, reason: 'stream token already used' });
    expect(reused() - reusedBefore).toBe(1);
    expect(h.openai.sessions.length).toBe(sessionsBefore);

    // The call itself goes on: its audio still reaches its session, and it ends normally.
    const heardBefore = session.inputAudioMs;
    await caller.silence(200, { pace: 'instant' });
    await eventually(() => session.inputAudioMs, (ms) => ms > heardBefore, 'the caller\'s audio after the refused replay');
    caller.stop();
    await caller.closed;
    expect((await endedCall(h, callSid)).status).toBe('completed');
  });

  it('refuses the token presented again after the call ended (1008): nothing written, no OpenAI session', async () => {
    const { callSid, token } = await finishedCall(h);
    const sessionsBefore = h.openai.sessions.length;
    const statementsBefore = h.statements.length;
    const reusedBefore = reused();

    const late = await replayer(h, callSid, token);
    expect(await fate(h, late)).toEqual({ code: 1008, reason: 'stream token already used' });
    expect(reused() - reusedBefore).toBe(1);
    expect(h.openai.sessions.length).toBe(sessionsBefore);
    expect(h.statements.slice(statementsBefore)).toEqual([]);
    expect((await endedCall(h, callSid)).status).toBe('completed');
  });

  it('answers a replayed signed voice request for an ended call with a hang-up: no <Stream>, no OpenAI session', async () => {
    const { callSid } = await finishedCall(h);
    const preopenedBefore = h.app.services.metrics.get('realtime_preopened_total');
    const connectionsBefore = h.openai.connections;

    const response = await postTwilioWebhook(h.app.url, '/twilio/voice', inboundCallParams({ accountSid: twilioAccountSid, callSid, from: sarahsNumber, to: businessNumber }));
    expect(response.status).toBe(200);
    expect(response.body).not.toContain('<Stream');
    expect(response.body).toContain('<Hangup/>');
    expect(h.app.services.metrics.get('realtime_preopened_total')).toBe(preopenedBefore);
    expect(h.openai.connections).toBe(connectionsBefore);
    expect((await endedCall(h, callSid)).status).toBe('completed');
  });
});
