import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueApiKey } from '../../../src/entities/api-key.repository.ts';
import { Call } from '../../../src/entities/call.entity.ts';
import { loadFixture } from '../../../src/sandbox/fixtures.ts';
import { SimulatedCaller } from '../../../src/sandbox/simulated-caller.ts';
import { startCallwatchProcess, type CallwatchProcess } from '../../support/callwatch-process.ts';
import { endedCall, eventually, sarahsNumber, businessNumber, startCallHarness, type CallHarness } from '../../support/calls.ts';
import { collect, graphql, graphqlWsClient } from '../../support/graphql.ts';
import { startRedisServer, type RedisServer } from '../../support/redis-server.ts';
import { callEnvironment, inboundCallParams, postTwilioWebhook, streamOf, twilioAccountSid } from '../../support/twilio.ts';

/**
 * A Redis outage during a live call, with the bus on a real `redis-server` the test kills
 * (SIGKILL) and restarts on the same port. Instance A is a real `node src/main.ts` (a crash
 * is a process exit) holding the call; instance B runs in this process and carries the
 * supervisor's subscriptions. Regression: an unhandled ioredis MaxRetriesPerRequestError
 * from a fire-and-forget PUBLISH used to end every instance that published.
 */

describe('a Redis outage during a live call', () => {
  let redis: RedisServer;
  let h: CallHarness;
  let a: CallwatchProcess;
  const clients: Client[] = [];

  beforeAll(async () => {
    redis = await startRedisServer();
    h = await startCallHarness({ env: { REDIS_URL: redis.url } });
    a = await startCallwatchProcess({
      NODE_ENV: 'test',
      ROLE: 'api',
      LOG_LEVEL: 'info',
      MIGRATE_ON_START: 'false',
      SHUTDOWN_TIMEOUT_MS: '2000',
      ...callEnvironment({ DATABASE_URL: h.app.database.url, REDIS_URL: redis.url, OPENAI_REALTIME_URL: h.openai.url, TWILIO_API_URL: h.twilioApi.url }),
    });
  }, 60_000);
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await a?.stop();
    await h?.stop();
    await redis?.stop();
  });

  /** callEvents of `callId` through graphql-ws on instance B, collected until the client is disposed. */
  function watch(key: string, callId: string) {
    const client = graphqlWsClient(h.app.url, key);
    clients.push(client);
    return collect(client, 'subscription($id: ID!) { callEvents(callId: $id) { type data } }', { id: callId }).results;
  }
  const turns = (results: ReturnType<typeof watch>) => results.filter((r) => r.data?.callEvents.type === 'transcript.turn').map((r) => r.data?.callEvents.data.turn.text as string);
  const actions = (results: ReturnType<typeof watch>) => results.filter((r) => r.data?.callEvents.type === 'supervisor.action').map((r) => r.data?.callEvents.data.detail as string);

  /** Reads `value` while A is running; fails at once, with A's output, once it has exited. */
  function whileAlive<T>(value: () => T): () => T {
    return () => {
      if (!a.running()) throw new Error(`instance A exited${a.describe()}`);
      return value();
    };
  }

  /** The publish failures A counted, read from its /metrics. */
  async function publishFailures(): Promise<number> {
    if (!a.running()) throw new Error(`instance A exited${a.describe()}`);
    const text = await (await fetch(`${a.url}/metrics`)).text();
    return Number(/^callwatch_bus_publish_failures_total (\d+)$/m.exec(text)?.[1] ?? Number.NaN);
  }

  it('keeps every instance and the call alive, refuses supervisor commands clearly, and resumes live events when Redis is back', async () => {
    const { key } = await issueApiKey(h.app.services.orm.em.fork(), { businessId: h.business.id, role: 'supervisor', name: 'floor' });
    const whisper = (url: string, text: string) =>
      graphql(url, key, 'mutation($id: ID!, $text: String!) { whisperToAgent(callId: $id, text: $text) { ... on SupervisorActionResult { acted error } } }', { id: call!.id, text }).catch((error: unknown) => {
        throw new Error(`no answer from ${url === a.url ? 'instance A' : 'instance B'} (${String(error)})${url === a.url ? a.describe() : ''}`);
      });

    // The call, on A.
    const callSid = 'CA00000000000000000000000000000961';
    const voice = await postTwilioWebhook(a.url, '/twilio/voice', inboundCallParams({ accountSid: twilioAccountSid, callSid, from: sarahsNumber, to: businessNumber }));
    expect(voice.status, voice.body).toBe(200);
    const caller = await SimulatedCaller.connect(`${a.url.replace('http', 'ws')}/twilio/media`, { callSid, accountSid: twilioAccountSid, customParameters: { token: streamOf(voice.body).token } });
    const session = await eventually(() => h.openai.sessions[0], Boolean, 'the OpenAI session of the call');
    session!.script({ replies: [{ text: 'שלום שרה' }, { text: 'בשמחה' }, { text: 'נרשם' }], callerTranscripts: ['אני רוצה תור', 'ביום ראשון'] });
    caller.start();
    await session!.waitForReceived('response.create');
    const call = await eventually(() => h.app.services.orm.em.fork().findOne(Call, { callSid }), Boolean, 'the call row');

    // Redis up: a supervisor on B watches the call on A, and a whisper travels both ways.
    const before = watch(key, call!.id);
    const onTheBus = () => eventually(() => redis.subscribers(`call:events:${call!.id}`), (n) => n > 0, 'B subscribed to the call’s events on Redis');
    await onTheBus();
    expect((await whisper(h.app.url, 'לפני')).data?.whisperToAgent).toEqual({ acted: true, error: null });
    await eventually(() => actions(before), (seen) => seen.includes('לפני'), 'the whisper before the outage, seen on B');

    await redis.kill();
    // A subscriber that arrives during the outage.
    const during = watch(key, call!.id);
    // The caller speaks: A publishes speech and transcript events into a dead bus.
    const speech = loadFixture('caller-booking');
    await caller.play(speech, { pace: 'instant' });
    await caller.silence(800, { pace: 'instant' });
    await eventually(whileAlive(() => session!.sent.filter((event) => event.type === 'response.done').length), (n) => n >= 2, 'the agent answering the caller');
    // The line stays open for a few seconds of the outage, the audio relayed all along.
    await caller.silence(3000, { pace: 'realtime' });
    const sentMs = caller.sent.filter((message) => message.event === 'media').length * 20;
    await eventually(whileAlive(() => session!.inputAudioMs), (ms) => ms === sentMs, 'all caller audio at OpenAI');
    // Supervisor commands get a clear answer, from the instance holding the call and from another.
    for (const url of [a.url, h.app.url]) {
      const answer = (await whisper(url, 'בזמן ההפסקה')).data?.whisperToAgent;
      expect(answer?.acted).toBe(false);
      expect(answer?.error).toMatch(/event bus \(Redis\) is unavailable/);
    }
    expect(await eventually(publishFailures, (n) => n > 0, 'a publish failure counted on A')).toBeGreaterThan(0);
    expect(a.running(), a.describe()).toBe(true);

    await redis.restart();
    // Once B has subscribed again and both instances are back on the bus, a whisper travels
    // again (earlier tries may find one still reconnecting), and what A publishes after the
    // restart reaches both subscribers: the one that stayed connected and the one that
    // subscribed during the outage.
    await onTheBus();
    await eventually(async () => (await whisper(h.app.url, 'אחרי')).data?.whisperToAgent?.acted, Boolean, 'a whisper after Redis is back', 20_000);
    await caller.play(speech, { pace: 'instant' });
    await caller.silence(800, { pace: 'instant' });
    for (const results of [before, during]) {
      await eventually(() => turns(results), (seen) => seen.includes('ביום ראשון'), 'the caller turn after the restart');
      expect(actions(results)).toContain('אחרי');
      // What was published while Redis was down is gone: live events are not queued.
      expect(turns(results)).not.toContain('אני רוצה תור');
      expect(actions(results)).not.toContain('בזמן ההפסקה');
    }

    // The call went on through the outage and is written at its end.
    caller.stop();
    await caller.closed;
    const row = await endedCall(h, callSid);
    expect(row.status).toBe('completed');
    expect(row.transcriptTurns.filter((turn) => turn.speaker === 'caller').map((turn) => turn.text)).toEqual(['אני רוצה תור', 'ביום ראשון']);
    expect(a.running(), a.describe()).toBe(true);
    const dropped = await publishFailures();
    expect(dropped).toBeGreaterThan(0);

    // The outage in A's log: lost and restored once per connection, the restored publish
    // connection saying how many events were dropped (the rate limit: redis-bus.test.ts).
    const log = a.stdout().split('\n').filter((line) => line.includes('"component":"redis-bus"')).map((line) => JSON.parse(line) as Record<string, any>);
    const lines = (msg: string) => log.filter((entry) => entry.msg === msg);
    expect(lines('redis connection lost, reconnecting').map((entry) => entry.client).sort()).toEqual(['publish', 'subscribe']);
    expect(lines('redis connection restored').map((entry) => [entry.client, entry.eventsDropped]).sort()).toEqual([['publish', dropped], ['subscribe', undefined]]);
  }, 90_000);
});
