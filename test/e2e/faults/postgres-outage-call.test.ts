import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureDatabase, type Orm } from '../../../src/core/db.ts';
import { openOrm } from '../../../src/database.ts';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../../src/core/embedded-postgres.ts';
import { BusinessSettings } from '../../../src/entities/business-settings.entity.ts';
import { Call } from '../../../src/entities/call.entity.ts';
import { Lead } from '../../../src/entities/lead.entity.ts';
import { loadFixture } from '../../../src/sandbox/fixtures.ts';
import { startOpenAIRealtimeStandIn, type OpenAIRealtimeStandIn } from '../../../src/sandbox/openai-realtime.server.ts';
import { freePort } from '../../../src/sandbox/ports.ts';
import { SimulatedCaller } from '../../../src/sandbox/simulated-caller.ts';
import { startCallwatchProcess, type CallwatchProcess } from '../../support/callwatch-process.ts';
import { businessNumber, eventually, sarahsNumber } from '../../support/calls.ts';
import { createBusiness } from '../../support/factories.ts';
import { callEnvironment, inboundCallParams, postTwilioWebhook, streamOf, twilioAccountSid } from '../../support/twilio.ts';

/**
 * Postgres goes away (a server this test owns, stopped under a real `node src/main.ts`)
 * while calls are in progress, and the callers hang up before it is back. The calls keep
 * talking through the outage; each call's end is kept and retried until Postgres returns,
 * then written in full (status, end reason, transcript) with its pipeline job; N calls
 * placed, N written. If the process is stopped first, the pending write is spilled to
 * DATA_DIR and written by the next start, and its file removed.
 * Regression (fault report, experiment 3): the end-of-call write was tried once, logged
 * `failed to persist the call`, and the call was lost: row `in-progress`, no transcript.
 * A call arriving during the outage is answered by the agent from the routing cache, and
 * its row is written when Postgres is back (regression: the caller heard an apology).
 */

let sequence = 1900;
const nextSid = () => `CA${String(++sequence).padStart(32, '0')}`;
const callerWords = 'אני רוצה תור';

describe('Postgres down while calls end', () => {
  let openai: OpenAIRealtimeStandIn;
  let root: string;
  let postgresPort: number;
  let server: EmbeddedPostgres | undefined;
  let databaseUrl: string;
  const processes: CallwatchProcess[] = [];

  beforeAll(async () => {
    openai = await startOpenAIRealtimeStandIn({ apiKey: 'sk-test-key', pace: 'instant' });
    root = mkdtempSync(join(tmpdir(), 'i19-pgdown-'));
    // As root, postgres runs as its own OS user and must be able to enter this directory.
    chmodSync(root, 0o755);
    postgresPort = await freePort();
    await startPostgres();
    await ensureDatabase(server!.url, 'callwatch');
    databaseUrl = server!.url.replace(/\/postgres$/, '/callwatch');
    // Callwatch's migrations, then the business the calls ring.
    await (await startCallwatch(join(root, 'callwatch-migrate'))).stop();
    processes.splice(0);
    await seedBusiness();
  }, 60_000);
  afterEach(async () => {
    for (const proc of processes.splice(0)) await proc.stop();
    if (!server) await startPostgres();
  });
  afterAll(async () => {
    for (const proc of processes) await proc.stop();
    await server?.stop();
    await openai?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  async function startPostgres(): Promise<void> {
    server = await startEmbeddedPostgres({ dataDir: join(root, 'postgres'), port: postgresPort });
  }
  async function stopPostgres(): Promise<void> {
    await server?.stop();
    server = undefined;
  }

  /** A Callwatch (api role: the pipeline jobs stay queued, to be counted) on the test's Postgres, with `dataDir`. */
  async function startCallwatch(dataDir: string): Promise<CallwatchProcess> {
    const proc = await startCallwatchProcess({
      NODE_ENV: 'test',
      ROLE: 'api',
      LOG_LEVEL: 'info',
      SHUTDOWN_TIMEOUT_MS: '2000',
      DATA_DIR: dataDir,
      // The same secrets for every process on this database.
      APP_SECRET: 'i19-pgdown-app-secret-0123456789abcdef',
      ADMIN_API_KEY: 'i19-pgdown-admin-key-0123456789abcdef',
      ...callEnvironment({ DATABASE_URL: databaseUrl, OPENAI_REALTIME_URL: openai.url }),
    });
    processes.push(proc);
    return proc;
  }

  /** The test's own client on the database, closed before Postgres is stopped. */
  const withOrm = async <T>(work: (orm: Orm) => Promise<T>): Promise<T> => {
    const orm = await openOrm(databaseUrl);
    try {
      return await work(orm);
    } finally {
      await orm.close();
    }
  };

  /** A business on the number, not recording: a call's end enqueues its pipeline itself. */
  const seedBusiness = () =>
    withOrm(async (orm) => {
      const business = await createBusiness(orm.em, { phone: businessNumber, name: 'שיפוצי הגליל' });
      const em = orm.em.fork();
      const settings = await em.findOneOrFail(BusinessSettings, { business: business.id });
      settings.recordCalls = false;
      await em.flush();
    });

  /** A call placed as Twilio does (voice webhook, media stream); the agent greets and the caller speaks. */
  async function placeCall(proc: CallwatchProcess): Promise<{ callSid: string; caller: SimulatedCaller }> {
    const callSid = nextSid();
    const sessions = openai.sessions.length;
    const voice = await postTwilioWebhook(proc.url, '/twilio/voice', inboundCallParams({ accountSid: twilioAccountSid, callSid, from: sarahsNumber, to: businessNumber }));
    expect(voice.status, voice.body).toBe(200);
    const caller = await SimulatedCaller.connect(`${proc.url.replace('http', 'ws')}/twilio/media`, { callSid, accountSid: twilioAccountSid, customParameters: { token: streamOf(voice.body).token } });
    const session = (await eventually(() => openai.sessions[sessions], Boolean, 'the OpenAI session of the call'))!;
    session.script({ replies: [{ text: 'שלום' }, { text: 'בשמחה' }], callerTranscripts: [callerWords] });
    caller.start();
    await session.waitForReceived('response.create');
    await caller.play(loadFixture('caller-booking'), { pace: 'instant' });
    await caller.silence(800, { pace: 'instant' });
    await eventually(() => session.sent.filter((event) => event.type === 'response.done').length, (n) => n >= 2, 'the agent answering the caller');
    return { callSid, caller };
  }

  const ready = (proc: CallwatchProcess) => fetch(`${proc.url}/ready`).then((response) => response.status, () => 0);
  const logLines = (proc: CallwatchProcess) =>
    proc
      .stdout()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  /** The callers hang up while Postgres is down; resolves once each call's end has been tried. */
  async function hangUpDuringOutage(proc: CallwatchProcess, callers: SimulatedCaller[]): Promise<void> {
    for (const caller of callers) {
      caller.stop();
      await caller.closed;
    }
    const endsTried = () => logLines(proc).filter((line) => line.msg === 'call ended' || line.msg === 'failed to persist the call').length;
    await eventually(endsTried, (n) => n === callers.length, 'each call\'s end to be tried');
  }

  const writtenRows = (callSids: string[]) =>
    withOrm((orm) => orm.em.fork().find(Call, { callSid: { $in: callSids }, endReason: { $ne: null } }));
  const pipelineJobs = (callIds: string[]) =>
    withOrm((orm) => orm.em.fork().execute<{ id: string }[]>(`select id from pgboss.job where name = 'call.process' and id::text in (${callIds.map(() => '?').join(',')})`, callIds));

  function expectWrittenInFull(rows: Call[], callSids: string[]): void {
    expect(rows.map((row) => row.callSid).sort()).toEqual([...callSids].sort());
    for (const row of rows) {
      expect(row).toMatchObject({ status: 'completed', endReason: 'caller hung up' });
      expect(row.endedAt).toBeInstanceOf(Date);
      expect(row.transcriptTurns.map((turn) => turn.text)).toContain(callerWords);
    }
  }

  it('keeps each call\'s end until Postgres is back, then writes it in full with its pipeline job: N placed, N written', { timeout: 120_000 }, async () => {
    const dataDir = join(root, 'callwatch-retry');
    const proc = await startCallwatch(dataDir);
    const calls = [await placeCall(proc), await placeCall(proc), await placeCall(proc)];
    const callSids = calls.map((call) => call.callSid);

    await stopPostgres();
    await eventually(() => ready(proc), (status) => status === 503, '/ready 503 while Postgres is down');
    await hangUpDuringOutage(proc, calls.map((call) => call.caller));
    expect(proc.running(), proc.describe()).toBe(true);

    await startPostgres();
    const back = Date.now();
    const rows = await eventually(() => writtenRows(callSids), (found) => found.length === callSids.length, 'every call written', 60_000);
    const writtenAfterMs = Date.now() - back;
    expectWrittenInFull(rows, callSids);
    const ids = rows.map((row) => row.id);
    expect((await pipelineJobs(ids)).map((job) => job.id).sort()).toEqual([...ids].sort());
    console.log(`postgres outage: ${callSids.length} calls placed, ${rows.length} written, ${writtenAfterMs} ms after Postgres was back`);

    const log = logLines(proc);
    expect(log.filter((line) => line.msg === 'failed to persist the call' || line.msg === 'failed to persist the call: the database refused the write')).toEqual([]);
    expect(log.filter((line) => line.msg === 'the call was written after the database came back')).toHaveLength(callSids.length);
    expect(existsSync(join(dataDir, 'pending-call-writes')), 'nothing spilled').toBe(false);
  });

  it('spills a call\'s end still pending at SIGTERM to DATA_DIR; the next start writes it and removes the file', { timeout: 120_000 }, async () => {
    const dataDir = join(root, 'callwatch-spill');
    const first = await startCallwatch(dataDir);
    const { callSid, caller } = await placeCall(first);
    const callId = await withOrm(async (orm) => (await orm.em.fork().findOneOrFail(Call, { callSid })).id);

    await stopPostgres();
    await eventually(() => ready(first), (status) => status === 503, '/ready 503 while Postgres is down');
    await hangUpDuringOutage(first, [caller]);
    await first.stop();
    const spillFile = join(dataDir, 'pending-call-writes', `${callId}.json`);
    expect(existsSync(spillFile), `the spill file${first.describe()}`).toBe(true);

    await startPostgres();
    const back = Date.now();
    // Ready once start-up has replayed the spilled writes.
    const second = await startCallwatch(dataDir);
    const rows = await eventually(() => writtenRows([callSid]), (found) => found.length === 1, 'the spilled call written', 30_000);
    console.log(`postgres outage with a restart: spilled call written ${Date.now() - back} ms after Postgres was back (including the process start)`);
    expectWrittenInFull(rows, [callSid]);
    expect((await pipelineJobs([callId])).map((job) => job.id)).toEqual([callId]);
    expect(existsSync(spillFile), 'the spill file removed').toBe(false);
    expect(logLines(second).filter((line) => line.msg === 'writing the call ends spilled at the last shutdown')).toMatchObject([{ calls: 1 }]);
  });

  it('answers a call arriving during the outage from the routing cache; its row is written when Postgres is back', { timeout: 120_000 }, async () => {
    const dataDir = join(root, 'callwatch-offline');
    const proc = await startCallwatch(dataDir);
    await stopPostgres();
    await eventually(() => ready(proc), (status) => status === 503, '/ready 503 while Postgres is down');
    const outageStart = Date.now();

    // Two calls arrive: the first hangs up during the outage, the second talks on past it.
    const [first, second] = [await placeCall(proc), await placeCall(proc)];
    const instructions = openai.sessions.slice(-2).map((session) => JSON.stringify(session.received.find((event) => event.type === 'session.update')));
    for (const sent of instructions) expect(sent, 'the agent knows the business from the cache').toContain('שיפוצי הגליל');
    first.caller.stop();
    await first.caller.closed;
    await eventually(() => logLines(proc).filter((line) => line.msg === 'call ended').length, (n) => n === 1, 'the first call\'s end');
    expect(proc.running(), proc.describe()).toBe(true);

    await startPostgres();
    const back = Date.now();
    // The live call's row appears while it is still on the line.
    const [live] = await eventually(() => withOrm((orm) => orm.em.fork().find(Call, { callSid: second.callSid })), (found) => found.length === 1, 'the live call\'s row', 60_000);
    const rowAfterMs = Date.now() - back;
    expect(live).toMatchObject({ status: 'in-progress', direction: 'inbound', endReason: null });
    expect(live!.createdAt.getTime(), 'created when the call arrived').toBeLessThan(back);
    expect(live!.createdAt.getTime()).toBeGreaterThanOrEqual(outageStart - 1000);
    second.caller.stop();
    await second.caller.closed;

    const callSids = [first.callSid, second.callSid];
    const rows = await eventually(() => writtenRows(callSids), (found) => found.length === 2, 'both calls written', 60_000);
    expectWrittenInFull(rows, callSids);
    const lead = await withOrm((orm) => orm.em.fork().findOneOrFail(Lead, { phone: sarahsNumber }));
    for (const row of rows) expect(row.lead?.id, 'the caller\'s lead linked').toBe(lead.id);
    const ids = rows.map((row) => row.id);
    expect((await pipelineJobs(ids)).map((job) => job.id).sort()).toEqual([...ids].sort());
    console.log(`postgres outage, calls arriving: 2 answered from the routing cache, 2 written; the live call's row ${rowAfterMs} ms after Postgres was back`);
    const log = logLines(proc);
    expect(log.filter((line) => line.msg === 'the database is unreachable: call answered from the routing cache, its row written when Postgres is back')).toHaveLength(2);
    expect(log.filter((line) => typeof line.msg === 'string' && line.msg.startsWith('failed to persist the call'))).toEqual([]);
  });
});
