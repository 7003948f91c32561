import { describe, expect, it } from 'vitest';
import { sql } from '../../../src/entities/sql.ts';
import { UsedStreamTokens, type StreamClaims } from '../../../src/realtime/twilio-line/stream-token.ts';
import { SimulatedCaller } from '../../../src/sandbox/simulated-caller.ts';
import { endedCall, eventually, placeCall, sarahsNumber, businessNumber, useCallHarness, type CallHarness } from '../../support/calls.ts';
import { createCall } from '../../support/factories.ts';
import { inboundCallParams, postTwilioWebhook, twilioAccountSid } from '../../support/twilio.ts';

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

describe('a replayed outbound voice request', () => {
  const h = useCallHarness();

  it('for a call that already ended is hung up: no <Stream>, and the call stays ended', async () => {
    const em = h.app.services.orm.em.fork();
    const job = await sql(em)
      .insertInto('OutboundCallJob')
      .values({ business: h.business.id, lead: h.sarah.id, purpose: 'לאשר את הפגישה', scheduledAt: new Date(), status: 'completed', attempts: 1 })
      .returning('id')
      .executeTakeFirstOrThrow();
    const callSid = nextSid();
    await createCall(em, h.business.id, { callSid, lead: h.sarah.id, outboundJob: job.id, direction: 'outbound', status: 'completed', endedAt: new Date() });
    const preopenedBefore = h.app.services.metrics.get('realtime_preopened_total');

    const params = { AccountSid: twilioAccountSid, CallSid: callSid, From: businessNumber, To: sarahsNumber, Direction: 'outbound-api', CallStatus: 'in-progress' };
    const response = await postTwilioWebhook(h.app.url, `/twilio/voice?outboundJob=${job.id}`, params);
    expect(response.status).toBe(200);
    expect(response.body).not.toContain('<Stream');
    expect(h.app.services.metrics.get('realtime_preopened_total')).toBe(preopenedBefore);
    const row = await sql(em).selectFrom('Call').select(['status']).where('callSid', '=', callSid).executeTakeFirstOrThrow();
    expect(row.status).toBe('completed');
  });
});

describe('the registry of used stream tokens', () => {
  const claims = (jti: string, exp: number): StreamClaims => ({ callSid: 'CA1', callId: 'c', businessId: 'b', leadId: null, outboundJobId: null, jti, exp });

  it('admits a token once and forgets it when the token expires, so its memory stays bounded', () => {
    const used = new UsedStreamTokens();
    const now = 1_800_000_000_000;
    const exp = now / 1000 + 120;
    expect(used.claim(claims('a', exp), now)).toBe(true);
    expect(used.claim(claims('a', exp), now + 1_000)).toBe(false);
    expect(used.claim(claims('b', exp + 1), now + 2_000)).toBe(true);
    // Past a's expiry (verifyStreamToken refuses it as expired from then on): a is dropped.
    expect(used.claim(claims('c', exp + 130), now + 120_500)).toBe(true);
    expect(used.size).toBe(2);
    expect(used.claim(claims('x', exp + 400), now + 10 * 60_000)).toBe(true);
    expect(used.size).toBe(1);
  });
});
