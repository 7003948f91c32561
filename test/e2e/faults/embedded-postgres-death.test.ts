import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Orm } from '../../../src/core/db.ts';
import { openOrm } from '../../../src/database.ts';
import { BusinessSettings } from '../../../src/entities/business-settings.entity.ts';
import { Call } from '../../../src/entities/call.entity.ts';
import { loadFixture } from '../../../src/sandbox/fixtures.ts';
import { startOpenAIRealtimeStandIn, type OpenAIRealtimeStandIn } from '../../../src/sandbox/openai-realtime.server.ts';
import { freePort } from '../../../src/sandbox/ports.ts';
import { SimulatedCaller } from '../../../src/sandbox/simulated-caller.ts';
import { startTwilioApiStandIn, type TwilioApiStandIn } from '../../../src/sandbox/twilio-api.server.ts';
import { startCallwatchProcess, type CallwatchProcess } from '../../support/callwatch-process.ts';
import { businessNumber, eventually, sarahsNumber } from '../../support/calls.ts';
import { createBusiness } from '../../support/factories.ts';
import { callEnvironment, inboundCallParams, postTwilioWebhook, streamOf, twilioAccountSid, twilioAuthToken } from '../../support/twilio.ts';

/**
 * The embedded PostgreSQL (no DATABASE_URL: `npm start` on a single box) SIGKILLed under a
 * running Callwatch, a real `node src/main.ts`. Callwatch notices, starts the server again
 * on the same data directory and port, and carries on: the call in progress keeps talking
 * through the outage and is written at its end, /ready is 200 again, a new call is written.
 * Regression: the server's death used to shut Callwatch down (exit 1), dropping the live call.
 */

describe('the embedded PostgreSQL killed under a running Callwatch', () => {
  let openai: OpenAIRealtimeStandIn;
  let twilioApi: TwilioApiStandIn;
  /** The Callwatch of the current test, its data directory and its server's port. */
  let a: CallwatchProcess;
  let dataDir: string;
  let postgresPort: number;
  const started: { proc: CallwatchProcess; dataDir: string }[] = [];
  const pids: number[] = [];

  beforeAll(async () => {
    openai = await startOpenAIRealtimeStandIn({ apiKey: 'sk-test-key', pace: 'instant' });
    twilioApi = await startTwilioApiStandIn({ accountSid: twilioAccountSid, authToken: twilioAuthToken });
  });
  afterAll(async () => {
    for (const { proc } of started) await proc.stop();
    // Only after a failure: no server outlives the test.
    for (const pid of pids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    await openai?.close();
    await twilioApi?.close();
    for (const { dataDir } of started) rmSync(dataDir, { recursive: true, force: true });
  });

  /** `node src/main.ts` without DATABASE_URL: its own embedded server, in a fresh data directory. */
  async function startCallwatch(): Promise<void> {
    // The server runs as the `postgres` OS user under root: it must be able to enter the directory.
    dataDir = mkdtempSync(join(tmpdir(), 'i19-embedded-death-'));
    chmodSync(dataDir, 0o755);
    postgresPort = await freePort();
    a = await startCallwatchProcess({
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      SHUTDOWN_TIMEOUT_MS: '2000',
      DATA_DIR: dataDir,
      EMBEDDED_POSTGRES_PORT: String(postgresPort),
      ...callEnvironment({ OPENAI_REALTIME_URL: openai.url, TWILIO_API_URL: twilioApi.url }),
    });
    started.push({ proc: a, dataDir });
  }

  /** The postmaster's pid, from the data directory's postmaster.pid. */
  const postmasterPid = () => {
    const pid = Number(readFileSync(join(dataDir, 'postgres', 'postmaster.pid'), 'utf8').split('\n')[0]);
    pids.push(pid);
    return pid;
  };
  /** An ORM on Callwatch's database inside the embedded server, as the test's own client. */
  const withOrm = async <T>(work: (orm: Orm) => Promise<T>): Promise<T> => {
    const { user, password } = JSON.parse(readFileSync(join(dataDir, 'postgres.credentials.json'), 'utf8')) as { user: string; password: string };
    const orm = await openOrm(`postgresql://${user}:${encodeURIComponent(password)}@127.0.0.1:${postgresPort}/callwatch`);
    try {
      return await work(orm);
    } finally {
      await orm.close();
    }
  };
  const ready = () => fetch(`${a.url}/ready`).then((response) => response.status, () => 0);
  /** Reads `value` while A is running; fails at once, with A's output, once it has exited. */
  const whileAlive = <T>(value: () => Promise<T> | T) => () => {
    if (!a.running()) throw new Error(`callwatch exited${a.describe()}`);
    return value();
  };

  async function startCall(callSid: string) {
    const sessions = openai.sessions.length;
    const voice = await postTwilioWebhook(a.url, '/twilio/voice', inboundCallParams({ accountSid: twilioAccountSid, callSid, from: sarahsNumber, to: businessNumber }));
    expect(voice.status, voice.body).toBe(200);
    const caller = await SimulatedCaller.connect(`${a.url.replace('http', 'ws')}/twilio/media`, { callSid, accountSid: twilioAccountSid, customParameters: { token: streamOf(voice.body).token } });
    const session = (await eventually(() => openai.sessions[sessions], Boolean, 'the OpenAI session of the call'))!;
    session.script({ replies: [{ text: 'שלום שרה' }, { text: 'בשמחה' }], callerTranscripts: ['אני רוצה תור'] });
    caller.start();
    await session.waitForReceived('response.create');
    return { caller, session };
  }
  const writtenCall = (callSid: string) =>
    eventually(
      whileAlive(() => withOrm((orm) => orm.em.fork().findOne(Call, { callSid }))),
      (row) => row?.endReason !== null && row?.endReason !== undefined,
      `call ${callSid} written`,
      20_000,
    );

  it('restarts the server; the live call keeps talking and is written; /ready is 200 again and a new call is written', { timeout: 120_000 }, async () => {
    await startCallwatch();
    await withOrm(async (orm) => {
      const business = await createBusiness(orm.em, { phone: businessNumber, name: 'שיפוצי הגליל' });
      const em = orm.em.fork();
      const settings = await em.findOneOrFail(BusinessSettings, { business: business.id });
      settings.recordCalls = false;
      await em.flush();
    });
    const live = await startCall('CA00000000000000000000000000001901');
    const first = postmasterPid();

    process.kill(first, 'SIGKILL');
    await eventually(whileAlive(ready), (status) => status === 503, '/ready 503 while the database is down');
    // The call goes on meanwhile: the caller speaks, the agent hears all of it and answers.
    await live.caller.play(loadFixture('caller-booking'), { pace: 'instant' });
    await live.caller.silence(800, { pace: 'instant' });
    const sentMs = live.caller.sent.filter((message) => message.event === 'media').length * 20;
    await eventually(whileAlive(() => live.session.inputAudioMs), (ms) => ms === sentMs, 'all caller audio at OpenAI');
    await eventually(whileAlive(() => live.session.sent.filter((event) => event.type === 'response.done').length), (n) => n >= 2, 'the agent answering');

    await eventually(whileAlive(ready), (status) => status === 200, '/ready 200 after the restart', 60_000);
    const second = postmasterPid();
    expect(second).not.toBe(first);
    expect(isAlive(first)).toBe(false);
    expect(isAlive(second)).toBe(true);

    live.caller.stop();
    await live.caller.closed;
    expect((await writtenCall('CA00000000000000000000000000001901'))?.status).toBe('completed');

    const fresh = await startCall('CA00000000000000000000000000001902');
    fresh.caller.stop();
    await fresh.caller.closed;
    expect((await writtenCall('CA00000000000000000000000000001902'))?.status).toBe('completed');

    // Said once each in the log, with the attempt.
    const log = a.stdout().split('\n').filter((line) => line.includes('"component":"embedded-postgres"')).map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(log.filter((entry) => entry.msg === 'embedded postgres exited unexpectedly: restarting it')).toMatchObject([{ signal: 'SIGKILL', pid: first }]);
    expect(log.filter((entry) => entry.msg === 'embedded postgres restarted')).toMatchObject([{ pid: second }]);

    // A clean stop afterwards stops the restarted server too.
    await a.stop();
    expect(await a.exited).toEqual({ code: 0, signal: null });
    expect(isAlive(second)).toBe(false);
  });

  it('shuts down with exit 1 and one fatal line naming the reason when the server cannot be restarted', { timeout: 120_000 }, async () => {
    await startCallwatch();
    const pid = postmasterPid();
    process.kill(pid, 'SIGKILL');
    // Something else takes the server's port at once: every restart fails to bind it. It
    // drops whatever connects (Callwatch's pools retrying), so that it can close again.
    const squatter = createServer((socket) => socket.destroy());
    await eventually(() => listenOn(squatter, postgresPort), Boolean, 'the port free to take');
    try {
      // Five attempts take 0.5 + 1 + 2 + 4 + 8 s, then the shutdown.
      const exit = await Promise.race([a.exited, new Promise((resolve) => setTimeout(resolve, 60_000, 'still running'))]);
      expect(exit, a.describe()).toEqual({ code: 1, signal: null });
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
    const log = a.stdout().split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(log.filter((entry) => entry.msg === 'embedded postgres restart failed')).toHaveLength(5);
    const fatal = log.filter((entry) => entry.msg === 'fatal');
    expect(fatal).toHaveLength(1);
    expect(fatal[0]?.reason).toMatch(/^embedded PostgreSQL exited unexpectedly and could not be restarted after 5 attempts: .*port \d+ is already in use/);
    expect(isAlive(pid)).toBe(false);
    expect(a.stderr()).toBe('');
  });
});

/** Listens on 127.0.0.1:`port`; false while something still holds it. */
function listenOn(server: Server, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => resolve(true));
  });
}

/** Whether `pid` is a live process (a zombie waiting to be reaped counts as gone). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/\)\s+Z\s/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
