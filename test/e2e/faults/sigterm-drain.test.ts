import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import { Call } from '../../../src/entities/call.entity.ts';
import { loadFixture } from '../../../src/sandbox/fixtures.ts';
import type { StandInSession } from '../../../src/sandbox/openai-realtime.server.ts';
import { SimulatedCaller } from '../../../src/sandbox/simulated-caller.ts';
import { startCallwatchProcess, type CallwatchProcess } from '../../support/callwatch-process.ts';
import { agentSettings, businessNumber, endedCall, eventually, sarahsNumber, startCallHarness, type CallHarness } from '../../support/calls.ts';
import { callEnvironment, inboundCallParams, postTwilioWebhook, streamOf, twilioAccountSid } from '../../support/twilio.ts';

/**
 * A deploy: SIGTERM to a real `node src/main.ts` (the api role) holding live calls, with
 * OpenAI and Twilio replaced by their stand-ins. The instance leaves the load balancer at
 * once (/ready 503), the calls go on and those that end by themselves are written as usual;
 * only at SHUTDOWN_CALL_DRAIN_SEC (or a second SIGTERM) do the calls left hear a short
 * goodbye and hang up, written with `server shutting down`. Then the process exits 0 and
 * every call placed has its row, none left in progress. Regression: the instance stopped
 * listening at once (/ready unreachable) and cut every call after SHUTDOWN_TIMEOUT_MS (10 s)
 * without a word.
 */

const shutdownGoodbye = 'close now for maintenance';
let sequence = 1900;
const nextSid = () => `CA${String(++sequence).padStart(32, '0')}`;

describe('SIGTERM with live calls', () => {
  let h: CallHarness;
  let a: CallwatchProcess | undefined;

  beforeAll(async () => {
    h = await startCallHarness();
    // Long timers: the calls end only by the caller, the drain or the goodbye.
    await agentSettings(h, { silenceTimeoutSec: 600, maxCallDurationSec: 3600 });
  }, 60_000);
  afterEach(async () => {
    await a?.stop();
    a = undefined;
  });
  afterAll(() => h?.stop());

  const startInstance = (drainSec: string) =>
    startCallwatchProcess({
      NODE_ENV: 'test',
      ROLE: 'api',
      LOG_LEVEL: 'info',
      MIGRATE_ON_START: 'false',
      SHUTDOWN_TIMEOUT_MS: '2000',
      SHUTDOWN_CALL_DRAIN_SEC: drainSec,
      ...callEnvironment({ DATABASE_URL: h.app.database.url, OPENAI_REALTIME_URL: h.openai.url, TWILIO_API_URL: h.twilioApi.url }),
    });

  /** A call to the business on instance `a`, as Twilio places it: voice webhook, then the media stream; the agent greets. */
  async function placeOn(a: CallwatchProcess): Promise<{ callSid: string; caller: SimulatedCaller; session: StandInSession }> {
    const callSid = nextSid();
    h.twilioApi.addCall({ sid: callSid, from: sarahsNumber, to: businessNumber, direction: 'inbound', status: 'in-progress' });
    const before = h.openai.sessions.length;
    const voice = await postTwilioWebhook(a.url, '/twilio/voice', inboundCallParams({ accountSid: twilioAccountSid, callSid, from: sarahsNumber, to: businessNumber }));
    expect(voice.status, voice.body).toBe(200);
    const caller = await SimulatedCaller.connect(`${a.url.replace('http', 'ws')}/twilio/media`, { callSid, accountSid: twilioAccountSid, customParameters: { token: streamOf(voice.body).token } });
    h.twilioApi.attachStream(callSid, caller);
    const session = (await eventually(() => h.openai.sessions[before], Boolean, 'the OpenAI session of the call'))!;
    session.script({ replies: [{ text: 'שלום' }, { text: 'בשמחה' }, { text: 'אנחנו נאלצים לסיים, נחזור אליך. להתראות' }], callerTranscripts: ['אני רוצה תור'] });
    caller.start();
    await session.waitForReceived('response.create');
    return { callSid, caller, session };
  }

  const readyStatus = (a: CallwatchProcess) => fetch(`${a.url}/ready`).then((response) => response.status, () => 0);
  const rows = (callSids: string[]) => h.app.services.orm.em.fork().find(Call, { callSid: { $in: callSids } });
  const pipelineJobs = (callId: string) =>
    h.app.services.orm.em.fork().execute<{ state: string }[]>(`select state from pgboss.job where name = 'call.process' and data->>'callId' = ?`, [callId]);
  const hangUpOf = (callSid: string) =>
    h.twilioApi.waitForRequest((request) => request.method === 'POST' && request.path.endsWith(`/Calls/${callSid}.json`) && request.params.Status === 'completed', 20_000);

  it('leaves the load balancer at once, still takes a call routed to it, lets the calls go on, writes one that ends by itself, and on a second SIGTERM ends the rest with a goodbye', async () => {
    const instance = (a = await startInstance('600'));
    const calls = [await placeOn(instance), await placeOn(instance), await placeOn(instance)];

    instance.child.kill('SIGTERM');
    // Out of rotation at once, while it still holds the calls.
    await eventually(() => readyStatus(instance), (status) => status === 503, '/ready to answer 503');
    expect(await (await fetch(`${instance.url}/ready`)).json()).toMatchObject({ ready: false, draining: true });
    expect(instance.running(), instance.describe()).toBe(true);

    // A call the load balancer sent before it noticed is still taken, not dropped.
    calls.push(await placeOn(instance));

    // The caller keeps talking and the agent answers, during the drain.
    const [first, second, third, late] = calls as [(typeof calls)[0], (typeof calls)[0], (typeof calls)[0], (typeof calls)[0]];
    await first.caller.play(loadFixture('caller-booking'), { pace: 'instant' });
    await first.caller.silence(800, { pace: 'instant' });
    await eventually(() => first.session.sent.filter((event) => event.type === 'response.done').length, (n) => n >= 2, 'the agent answering the caller during the drain');
    const sentMs = first.caller.sent.filter((message) => message.event === 'media').length * 20;
    await eventually(() => first.session.inputAudioMs, (ms) => ms === sentMs, 'all caller audio at OpenAI');

    // A caller hangs up during the drain: the call is written as ever, its pipeline job enqueued.
    await h.twilioApi.hangUp(first.callSid);
    const ended = await endedCall(h, first.callSid);
    expect(ended).toMatchObject({ status: 'completed', endReason: 'caller hung up' });
    expect(ended.transcriptTurns.map((turn) => turn.text)).toContain('אני רוצה תור');
    expect(await eventually(() => pipelineJobs(ended.id), (jobs) => jobs.length === 1, 'the pipeline job of the call')).toHaveLength(1);
    // The others are still live: nothing was said to them.
    expect(instance.running(), instance.describe()).toBe(true);
    for (const { session } of [second, third, late]) expect(session.responseRequests.map((request) => request.instructions).join('\n')).not.toContain(shutdownGoodbye);

    // A second SIGTERM ends the drain: a goodbye, a hang-up, the row.
    instance.child.kill('SIGTERM');
    for (const { callSid, session } of [second, third, late]) {
      await hangUpOf(callSid);
      expect(session.responseRequests.at(-1)?.instructions).toContain(shutdownGoodbye);
    }
    expect(await instance.exited, instance.describe()).toEqual({ code: 0, signal: null });

    const written = await rows(calls.map((call) => call.callSid));
    expect(written).toHaveLength(calls.length);
    expect(written.filter((row) => row.endedAt === null || row.endedAt === undefined)).toEqual([]);
    expect(written.filter((row) => row.status === 'in-progress')).toEqual([]);
    expect(written.map((row) => [row.callSid, row.endReason]).sort()).toEqual(
      [
        [first.callSid, 'caller hung up'],
        [second.callSid, 'server shutting down'],
        [third.callSid, 'server shutting down'],
        [late.callSid, 'server shutting down'],
      ].sort(),
    );
  }, 90_000);

  it('at SHUTDOWN_CALL_DRAIN_SEC says goodbye to the calls left, writes each, and exits 0', async () => {
    const instance = (a = await startInstance('2'));
    const calls = [await placeOn(instance), await placeOn(instance)];

    instance.child.kill('SIGTERM');
    await eventually(() => readyStatus(instance), (status) => status === 503, '/ready to answer 503');
    for (const { callSid, session } of calls) {
      const update = await hangUpOf(callSid);
      expect(update.params.Status).toBe('completed');
      expect(session.responseRequests.at(-1)?.instructions).toContain(shutdownGoodbye);
    }
    expect(await instance.exited, instance.describe()).toEqual({ code: 0, signal: null });

    const written = await rows(calls.map((call) => call.callSid));
    expect(written.map((row) => [row.status, row.endReason])).toEqual([
      ['completed', 'server shutting down'],
      ['completed', 'server shutting down'],
    ]);
    for (const row of written) {
      expect(row.timeline.map((event) => event.type)).toEqual(['call.started', 'call.closing', 'call.ended']);
      expect(await pipelineJobs(row.id)).toHaveLength(1);
    }
  }, 90_000);

  it('while the last calls say goodbye, answers a new call’s voice webhook 503 (Twilio’s fallback URL), never a 500', async () => {
    const instance = (a = await startInstance('0'));
    const call = await placeOn(instance);
    // The goodbye takes a while: the instance is between the drain's end and its exit.
    call.session.delayResponseDone(3000);
    instance.child.kill('SIGTERM');
    const asked = () => call.session.received.filter((event) => event.type === 'response.create').map((event) => JSON.stringify(event));
    await eventually(asked, (requests) => requests.some((request) => request.includes(shutdownGoodbye)), 'the goodbye asked of OpenAI');
    const callSid = nextSid();
    h.twilioApi.addCall({ sid: callSid, from: sarahsNumber, to: businessNumber, direction: 'inbound', status: 'in-progress' });
    const voice = await postTwilioWebhook(instance.url, '/twilio/voice', inboundCallParams({ accountSid: twilioAccountSid, callSid, from: sarahsNumber, to: businessNumber }));
    expect(voice.status).toBe(503);
    await hangUpOf(call.callSid);
    expect(await instance.exited, instance.describe()).toEqual({ code: 0, signal: null });
    expect(await endedCall(h, call.callSid)).toMatchObject({ status: 'completed', endReason: 'server shutting down' });
    // Refused before anything was written: no row for the refused call.
    expect(await rows([callSid])).toEqual([]);
  }, 90_000);

  it('with a transfer number, hands the calls left to it at the drain’s end', async () => {
    await agentSettings(h, { silenceTimeoutSec: 600, maxCallDurationSec: 3600, transferNumber: '+972501111111' });
    try {
      const instance = (a = await startInstance('1'));
      const call = await placeOn(instance);
      instance.child.kill('SIGTERM');
      const update = await h.twilioApi.waitForRequest((request) => request.method === 'POST' && request.path.endsWith(`/Calls/${call.callSid}.json`), 20_000);
      expect(update.params.Twiml).toContain('<Dial');
      expect(update.params.Twiml).toContain('+972501111111');
      expect(await instance.exited, instance.describe()).toEqual({ code: 0, signal: null });
      const row = await endedCall(h, call.callSid);
      expect(row.endReason).toBe('transferred');
      expect(row.timeline.find((event) => event.type === 'call.transfer')).toMatchObject({ reason: 'server shutting down', ok: true });
    } finally {
      await agentSettings(h, { silenceTimeoutSec: 600, maxCallDurationSec: 3600 });
    }
  }, 90_000);
});
