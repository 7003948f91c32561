import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallEvent } from '../../../src/core/events.ts';
import { Call } from '../../../src/entities/call.entity.ts';
import { liveCallStatuses } from '../../../src/entities/call-record.ts';
import { callResource } from '../../../src/sandbox/twilio-api.resources.ts';
import { SimulatedCaller } from '../../../src/sandbox/simulated-caller.ts';
import { killProcess, startCallwatchProcess, type CallwatchProcess } from '../../support/callwatch-process.ts';
import { agentSettings, businessNumber, eventually, sarahsNumber, startCallHarness, type CallHarness } from '../../support/calls.ts';
import { callEnvironment, inboundCallParams, postTwilioWebhook, streamOf, twilioAccountSid } from '../../support/twilio.ts';

/**
 * A Callwatch API instance (a real `node src/main.ts`, ROLE=api) holding live calls is
 * SIGKILLed. Its heartbeat stops; the other instance (the harness's, ROLE=all, which runs
 * the lost calls sweep) finds the calls it held — and one whose voice webhook it answered
 * but whose stream never came — asks Twilio for each, hangs up those still up (no agent is
 * on them), and closes them with Twilio's end time and duration and `endReason`
 * `lost: process ended`; `liveCalls` hears `call.ended`, and each call's pipeline starts.
 * Regression: the rows stayed `in-progress` forever, and `liveCalls` listed them.
 */

/** The bound: lost calls closed within 2 minutes. */
const boundMs = 120_000;
let sequence = 2900;
const nextSid = () => `CA${String(++sequence).padStart(32, '0')}`;

describe('an API instance SIGKILLed with live calls', () => {
  let h: CallHarness;
  let a: CallwatchProcess | undefined;

  beforeAll(async () => {
    h = await startCallHarness({ pipeline: true, env: { LOST_CALL_AFTER_SEC: '3', RECORDING_CALLBACK_GRACE_SEC: '1' } });
    await agentSettings(h, { silenceTimeoutSec: 600, maxCallDurationSec: 3600 });
  }, 60_000);
  afterAll(async () => {
    if (a) await killProcess(a.child);
    await h?.stop();
  });

  /** A real API instance (`node src/main.ts`, ROLE=api) on the harness's database and stand-ins. */
  const startInstance = () =>
    startCallwatchProcess({
      NODE_ENV: 'test',
      ROLE: 'api',
      LOG_LEVEL: 'warn',
      MIGRATE_ON_START: 'false',
      LOST_CALL_AFTER_SEC: '3',
      // The webhook secret the harness stored is sealed with its APP_SECRET.
      APP_SECRET: h.app.services.config.appSecret,
      ...callEnvironment({ DATABASE_URL: h.app.database.url, OPENAI_REALTIME_URL: h.openai.url, TWILIO_API_URL: h.twilioApi.url }),
    });
  const em = () => h.app.services.orm.em.fork();
  const rows = (callSids: string[]) => em().find(Call, { callSid: { $in: callSids } }, { orderBy: { callSid: 'asc' } });
  const heldBy = async () => (await em().execute<{ call_ids: string[] }[]>('select call_ids from instance_heartbeats')).flatMap((row) => row.call_ids);
  const pipelineJobs = (callIds: string[]) =>
    em().execute<{ callId: string }[]>(`select data->>'callId' as "callId" from pgboss.job where name = 'call.process' and data->>'callId' in (${callIds.map(() => '?').join(', ')})`, callIds);

  /** A call as Twilio places it on `a`: voice webhook, then (unless `stream: false`) the media stream; the agent greets. */
  async function placeOn(a: CallwatchProcess, { stream = true } = {}): Promise<string> {
    const callSid = nextSid();
    h.twilioApi.addCall({ sid: callSid, from: sarahsNumber, to: businessNumber, direction: 'inbound', status: 'in-progress' });
    const voice = await postTwilioWebhook(a.url, '/twilio/voice', inboundCallParams({ accountSid: twilioAccountSid, callSid, from: sarahsNumber, to: businessNumber }));
    expect(voice.status, voice.body).toBe(200);
    if (!stream) return callSid;
    const before = h.openai.sessions.length;
    const caller = await SimulatedCaller.connect(`${a.url.replace('http', 'ws')}/twilio/media`, { callSid, accountSid: twilioAccountSid, customParameters: { token: streamOf(voice.body).token } });
    h.twilioApi.attachStream(callSid, caller);
    const session = (await eventually(() => h.openai.sessions[before], Boolean, 'the OpenAI session of the call'))!;
    session.script({ replies: [{ text: 'שלום' }] });
    caller.start();
    await session.waitForReceived('response.create');
    return callSid;
  }

  it('closes every call it held (and one whose stream never came) with Twilio’s end, within 2 minutes, and starts their pipelines', async () => {
    a = await startInstance();
    const held = [await placeOn(a), await placeOn(a), await placeOn(a)];
    const streamless = await placeOn(a, { stream: false });
    const placed = [...held, streamless].sort();
    const ids = (await rows(placed)).map((row) => row.id);
    expect(ids).toHaveLength(placed.length);
    const heldIds = (await rows(held)).map((row) => row.id);
    // The instance's heartbeat lists the calls whose streams it holds.
    await eventually(heldBy, (listed) => heldIds.every((id) => listed.includes(id)), 'the heartbeat to list the calls held');

    const ended: CallEvent[] = [];
    const events = h.app.services.bus.subscribe('business:calls', h.business.id);
    void (async () => {
      for await (const event of events) if (event.type === 'call.ended') ended.push(event);
    })();

    const killedAt = Date.now();
    await killProcess(a.child);
    const lost = (calls: Call[]) => calls.every((call) => call.endReason === 'lost: process ended');
    await eventually(() => rows(held), lost, 'the held calls to be closed', boundMs);
    const heldCloseMs = Date.now() - killedAt;
    const closed = await eventually(
      () => rows(placed),
      lost,
      'the lost calls to be closed',
      boundMs,
    );
    const closeMs = Date.now() - killedAt;
    console.log(
      `api-instance-kill: ${held.length} held calls closed ${(heldCloseMs / 1000).toFixed(1)} s after the SIGKILL, the streamless one too by ${(closeMs / 1000).toFixed(1)} s (LOST_CALL_AFTER_SEC=3)`,
    );

    // In numbers: placed, closed as lost, with Twilio's duration and end, pipelines started, none live.
    expect(closed).toHaveLength(placed.length);
    expect(closed.filter((call) => call.endReason === 'lost: process ended')).toHaveLength(placed.length);
    for (const call of closed) {
      const atTwilio = h.twilioApi.calls.get(call.callSid)!;
      expect(atTwilio.status).toBe('completed');
      const resource = callResource(atTwilio);
      expect(call.status).toBe('completed');
      expect(call.durationSec).toBe(Number(resource.duration));
      // Twilio's end time (to the second, as its API gives it).
      expect(call.endedAt?.getTime()).toBe(new Date(resource.end_time!).getTime());
    }
    expect(closeMs).toBeLessThan(boundMs);
    const jobs = await eventually(() => pipelineJobs(ids), (found) => found.length === placed.length, 'a pipeline job per lost call', 30_000);
    expect(new Set(jobs.map((job) => job.callId))).toEqual(new Set(ids));
    expect(await em().count(Call, { callSid: { $in: placed }, status: { $in: [...liveCallStatuses] } })).toBe(0);
    // liveCalls hears each end.
    await eventually(() => ended.length, (n) => n >= placed.length, 'a call.ended per lost call');
    expect(ended.map((event) => event.type === 'call.ended' && event.reason)).toEqual(placed.map(() => 'lost: process ended'));
    // The dead instance's heartbeat is gone once its calls are closed.
    await eventually(heldBy, (listed) => listed.every((id) => !heldIds.includes(id)), 'the dead instance’s heartbeat to be removed');
    void events.return?.();
  }, 240_000);

  it('leaves no heartbeat behind on a clean shutdown, so nothing of it is swept', async () => {
    const b = await startInstance();
    const beats = () => em().execute<{ id: string }[]>('select id from instance_heartbeats');
    // The harness's own instance and this one.
    await eventually(beats, (rows) => rows.length === 2, 'both instances to beat');
    await b.stop();
    expect(await b.exited).toEqual({ code: 0, signal: null });
    expect(await beats()).toHaveLength(1);
  }, 60_000);
});
