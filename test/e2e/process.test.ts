import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startOpenAIApiStandIn } from '../../src/sandbox/openai-api.server.ts';
import { freePorts } from '../../src/sandbox/ports.ts';
import { printed } from '../support/callwatch-process.ts';

/**
 * The real entry point, `node src/main.ts`, as an operator runs it: no DATABASE_URL, so
 * the process starts (and must stop) the embedded PostgreSQL under DATA_DIR/postgres.
 * Each test spawns its own process in a fresh data directory; every child, any server it
 * left behind and every directory are cleaned up even when a test fails halfway.
 */

const repoRoot = new URL('../..', import.meta.url).pathname;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface CallwatchProcess {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves once the process has exited and its stdout/stderr pipes are closed. */
  exited: Promise<Exit>;
  /** Whether the process has not exited yet. */
  running: () => boolean;
}

const children: CallwatchProcess[] = [];
const tempDirs: string[] = [];
/** Data directories the current test started a server on, to stop strays after a failure. */
let dataDirsInUse: string[] = [];

function spawnCallwatch(env: Record<string, string>): CallwatchProcess {
  const child = spawn(process.execPath, ['src/main.ts'], {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let exit: Exit | undefined;
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.once('exit', (code, signal) => (exit = { code, signal }));
  const exited = new Promise<Exit>((resolve) => {
    // 'close' comes after 'exit' and after both pipes closed: nothing of the child is left open.
    child.once('close', (code, signal) => resolve(exit ?? { code, signal }));
    // A spawn failure emits 'error' and then 'close'; nothing else to do here.
    child.once('error', () => {});
  });
  const proc: CallwatchProcess = {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    running: () => exit === undefined,
  };
  children.push(proc);
  return proc;
}

/** A fresh data directory the `postgres` OS user can enter (the server runs as it under root). */
function tempDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'callwatch-process-'));
  chmodSync(dir, 0o755);
  tempDirs.push(dir);
  return dir;
}

/** A clean environment built from scratch: nothing from the test runner leaks in (NODE_ENV, DATABASE_URL, …). */
async function baseEnv(dataDir: string, extra: Record<string, string> = {}): Promise<Record<string, string>> {
  dataDirsInUse.push(dataDir);
  // Distinct: the HTTP server and the embedded PostgreSQL once got the same "free" port.
  const [httpPort, postgresPort] = await freePorts(2);
  return {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: process.env.HOME ?? tmpdir(),
    DATA_DIR: dataDir,
    PORT: String(httpPort),
    EMBEDDED_POSTGRES_PORT: String(postgresPort),
    LOG_LEVEL: 'info',
    ...extra,
  };
}

function describeProcess(proc: CallwatchProcess): string {
  const tail = (text: string) => text.slice(-4_000);
  return `\n--- stderr ---\n${tail(proc.stderr())}\n--- stdout (tail) ---\n${tail(proc.stdout())}`;
}

/** Resolves with the exit, or throws when the process is still running after `ms`. */
async function exitWithin(proc: CallwatchProcess, ms: number, what: string): Promise<Exit> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still running after ${ms} ms${describeProcess(proc)}`)), ms);
  });
  try {
    return await Promise.race([proc.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

interface HttpResponse {
  status: number;
  body: string;
}

/** One GET on a connection of its own (no keep-alive: no socket outlives the request). */
function getUrl(url: string): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const request = httpGet(url, { agent: false, timeout: 2_000 }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`GET ${url} timed out`)));
    request.on('error', reject);
  });
}

/**
 * Polls GET `path` until it answers `status`, for up to `timeoutMs`. Fails at once (with the
 * process's output) if the process exits meanwhile.
 */
async function pollUntil(
  proc: CallwatchProcess,
  port: string,
  path: string,
  status: number,
  timeoutMs: number,
): Promise<HttpResponse> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  for (;;) {
    if (!proc.running()) {
      const exit = await proc.exited;
      throw new Error(`process exited (${JSON.stringify(exit)}) while waiting for GET ${path}${describeProcess(proc)}`);
    }
    try {
      const response = await getUrl(`http://127.0.0.1:${port}${path}`);
      if (response.status === status) return response;
      last = `${response.status} ${response.body}`;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() > deadline) {
      throw new Error(`GET ${path} did not answer ${status} within ${timeoutMs} ms (last: ${last})${describeProcess(proc)}`);
    }
    // A poll: whether the HTTP endpoint answers is the thing being waited for.
    await delay(25);
  }
}

/** Starts `node src/main.ts` and waits until /health and /ready both answer 200. */
async function startAndWaitReady(env: Record<string, string>): Promise<{ proc: CallwatchProcess; ready: unknown }> {
  const proc = spawnCallwatch(env);
  const port = env.PORT ?? '';
  const health = await pollUntil(proc, port, '/health', 200, 30_000);
  expect(JSON.parse(health.body)).toEqual({ status: 'ok' });
  const ready = await pollUntil(proc, port, '/ready', 200, 15_000);
  return { proc, ready: JSON.parse(ready.body) };
}

async function stopGracefully(proc: CallwatchProcess): Promise<Exit> {
  proc.child.kill('SIGTERM');
  return exitWithin(proc, 15_000, 'graceful shutdown after SIGTERM');
}

function postmasterPidFile(dataDir: string): string {
  return join(dataDir, 'postgres', 'postmaster.pid');
}

function postmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(postmasterPidFile(dataDir), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Whether `pid` is a live process (a zombie waiting to be reaped counts as gone). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // /proc/<pid>/stat: "pid (comm) state …"; Z = exited, not yet reaped.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/\)\s+Z\s/.test(stat);
  } catch {
    return true;
  }
}

/** After a failed test: stops an embedded server a killed Callwatch left running on `dataDir`. */
async function stopStrayPostgres(dataDir: string): Promise<void> {
  const pid = postmasterPid(dataDir);
  if (pid === undefined || !isAlive(pid)) return;
  try {
    process.kill(pid, 'SIGINT'); // fast shutdown
  } catch {
    return;
  }
  const deadline = Date.now() + 10_000;
  // A poll: another process's end (not our child) sends no event.
  while (isAlive(pid) && Date.now() < deadline) await delay(50);
  if (isAlive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}

async function withEmbeddedClient<T>(dataDir: string, port: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const credentials = JSON.parse(readFileSync(join(dataDir, 'postgres.credentials.json'), 'utf8')) as {
    user: string;
    password: string;
  };
  const client = new pg.Client({
    host: '127.0.0.1',
    port: Number(port),
    user: credentials.user,
    password: credentials.password,
    database: 'callwatch',
  });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** The single line a failed start-up must print on stderr. */
function singleStderrLine(proc: CallwatchProcess): string {
  const text = proc.stderr();
  expect(text, `stderr must be exactly one line${describeProcess(proc)}`).toMatch(/^[^\n]+\n$/);
  return text.slice(0, -1);
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    // No host: every address, as the HTTP server binds it.
    server.listen(port, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

describe('node src/main.ts with the embedded PostgreSQL', () => {
  afterEach(async () => {
    // Only does something when a test failed midway: no child, no server outlives its test.
    for (const proc of children.splice(0)) {
      if (proc.running()) proc.child.kill('SIGKILL');
      await proc.exited;
    }
    for (const dataDir of dataDirsInUse.splice(0)) await stopStrayPostgres(dataDir);
  });

  afterAll(() => {
    for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it(
    'starts on an empty data directory, answers /health and /ready, stops on SIGTERM and keeps its data across a restart',
    async () => {
      const dataDir = tempDataDir();
      const env = await baseEnv(dataDir);

      // First start: initdb, migrations, queue, HTTP.
      const first = await startAndWaitReady(env);
      expect(first.ready).toMatchObject({ ready: true, database: true, queue: true });
      expect(existsSync(join(dataDir, 'postgres', 'PG_VERSION'))).toBe(true);
      const firstPostgresPid = postmasterPid(dataDir);
      expect(firstPostgresPid, 'postmaster.pid while running').toBeDefined();

      await withEmbeddedClient(dataDir, env.EMBEDDED_POSTGRES_PORT ?? '', (client) =>
        client.query(
          `insert into businesses (id, name, timezone, locale, created_at, updated_at)
           values (gen_random_uuid(), 'Persisted', 'Asia/Jerusalem', 'he-IL', now(), now())`,
        ),
      );

      expect(await stopGracefully(first.proc)).toEqual({ code: 0, signal: null });
      expect(existsSync(postmasterPidFile(dataDir)), 'postmaster.pid after shutdown').toBe(false);
      if (firstPostgresPid !== undefined) expect(isAlive(firstPostgresPid), 'postgres still running').toBe(false);
      expect(first.proc.stderr()).toBe('');

      // Second start on the same directory: no initdb, same credentials, the row is there.
      const [secondHttpPort, secondPostgresPort] = await freePorts(2);
      const secondEnv = { ...env, PORT: String(secondHttpPort), EMBEDDED_POSTGRES_PORT: String(secondPostgresPort) };
      const second = await startAndWaitReady(secondEnv);
      expect(second.ready).toMatchObject({ ready: true, database: true, queue: true });
      const { rows } = await withEmbeddedClient(dataDir, secondEnv.EMBEDDED_POSTGRES_PORT ?? '', (client) =>
        client.query<{ name: string; timezone: string; locale: string }>(
          `select name, timezone, locale from businesses where name = 'Persisted'`,
        ),
      );
      expect(rows).toEqual([{ name: 'Persisted', timezone: 'Asia/Jerusalem', locale: 'he-IL' }]);

      expect(await stopGracefully(second.proc)).toEqual({ code: 0, signal: null });
      expect(existsSync(postmasterPidFile(dataDir)), 'postmaster.pid after second shutdown').toBe(false);
      expect(second.proc.stderr()).toBe('');
    },
    120_000,
  );

  it(
    'exits non-zero with one line naming the port and PORT when the HTTP port is taken',
    async () => {
      const dataDir = tempDataDir();
      const blocker = createServer();
      await listen(blocker, 0);
      try {
        const address = blocker.address();
        const takenPort = typeof address === 'object' && address ? address.port : 0;
        expect(takenPort).toBeGreaterThan(0);

        const proc = spawnCallwatch(await baseEnv(dataDir, { PORT: String(takenPort) }));
        const exit = await exitWithin(proc, 45_000, 'start-up with PORT taken');

        expect(exit.code, describeProcess(proc)).not.toBe(0);
        expect(exit.code, describeProcess(proc)).not.toBeNull();
        const line = singleStderrLine(proc);
        expect(line.startsWith('callwatch: cannot start:'), line).toBe(true);
        expect(line).toContain(String(takenPort));
        expect(line).toContain('PORT');
        // The embedded server it had started before the HTTP server failed is stopped again.
        expect(existsSync(postmasterPidFile(dataDir)), 'postmaster.pid after failed start').toBe(false);
      } finally {
        await closeServer(blocker);
      }
    },
    60_000,
  );

  it(
    'exits non-zero with one line naming the data directory when pg_control is corrupt',
    async () => {
      const dataDir = tempDataDir();
      const postgresDir = join(dataDir, 'postgres');

      // A cluster that worked once.
      const { proc: first, ready } = await startAndWaitReady(await baseEnv(dataDir));
      expect(ready).toMatchObject({ ready: true });
      expect(await stopGracefully(first)).toEqual({ code: 0, signal: null });

      writeFileSync(join(postgresDir, 'global', 'pg_control'), 'this is not a control file\n'.repeat(400));

      const proc = spawnCallwatch(await baseEnv(dataDir));
      const exit = await exitWithin(proc, 30_000, 'start-up with a corrupt pg_control');

      expect(exit.code, describeProcess(proc)).not.toBe(0);
      expect(exit.code, describeProcess(proc)).not.toBeNull();
      const line = singleStderrLine(proc);
      expect(line.startsWith('callwatch: cannot start: embedded PostgreSQL: '), line).toBe(true);
      expect(line).toContain(postgresDir);
      const pid = postmasterPid(dataDir);
      if (pid !== undefined) expect(isAlive(pid), 'postgres running after failed start').toBe(false);
    },
    60_000,
  );

  it(
    'exits non-zero with one line when DATA_DIR/postgres is not a PostgreSQL data directory',
    async () => {
      const dataDir = tempDataDir();
      const postgresDir = join(dataDir, 'postgres');
      mkdirSync(postgresDir);
      writeFileSync(join(postgresDir, 'notes.txt'), 'something else lives here\n');

      const proc = spawnCallwatch(await baseEnv(dataDir));
      const exit = await exitWithin(proc, 30_000, 'start-up on a foreign directory');

      expect(exit.code, describeProcess(proc)).not.toBe(0);
      expect(exit.code, describeProcess(proc)).not.toBeNull();
      const line = singleStderrLine(proc);
      expect(line.startsWith('callwatch: cannot start: embedded PostgreSQL: '), line).toBe(true);
      expect(line).toContain(postgresDir);
      expect(line).toContain('is not a PostgreSQL data directory');
      // Nothing was touched.
      expect(readFileSync(join(postgresDir, 'notes.txt'), 'utf8')).toBe('something else lives here\n');
      expect(existsSync(join(postgresDir, 'PG_VERSION'))).toBe(false);
    },
    60_000,
  );

  /** A production environment that starts (but for the database), less what `omit` names. */
  const productionEnv = (omit: string[]) =>
    Object.fromEntries(
      Object.entries({
        NODE_ENV: 'production',
        PUBLIC_URL: 'https://calls.example.com',
        APP_SECRET: 's'.repeat(40),
        ADMIN_API_KEY: 'k'.repeat(40),
        OPENAI_API_KEY: 'sk-test',
        TWILIO_ACCOUNT_SID: `AC${'0123456789abcdef'.repeat(2)}`,
        TWILIO_AUTH_TOKEN: 'token',
        METRICS_TOKEN: 'm'.repeat(40),
      }).filter(([name]) => !omit.includes(name)),
    );

  it.each([
    ['APP_SECRET when it is missing', ['APP_SECRET'], 'APP_SECRET is required when NODE_ENV=production'],
    ['METRICS_TOKEN and METRICS_PORT when neither is set', ['METRICS_TOKEN'], 'METRICS_TOKEN or METRICS_PORT is required when NODE_ENV=production'],
  ])(
    'exits non-zero at once with one line naming %s in production',
    async (_what, omit, named) => {
      const dataDir = tempDataDir();
      const proc = spawnCallwatch(await baseEnv(dataDir, productionEnv(omit)));
      const exit = await exitWithin(proc, 10_000, `start-up without ${omit.join(', ')}`);

      expect(exit.code, describeProcess(proc)).not.toBe(0);
      expect(exit.code, describeProcess(proc)).not.toBeNull();
      const line = singleStderrLine(proc);
      expect(line.startsWith('callwatch: cannot start:'), line).toBe(true);
      expect(line).toContain(named);
      // Only the missing variable is named, and no secret value is printed.
      expect(line).not.toContain('ADMIN_API_KEY');
      for (const secret of ['s', 'k', 'm']) expect(line).not.toContain(secret.repeat(40));
      // Configuration fails before anything is started or written.
      expect(existsSync(join(dataDir, 'postgres'))).toBe(false);
      expect(existsSync(join(dataDir, 'secrets.json'))).toBe(false);
    },
    30_000,
  );

  it(
    'exits non-zero with one line naming the model OpenAI does not have, and leaves no database running',
    async () => {
      const openaiApi = await startOpenAIApiStandIn();
      try {
        openaiApi.retireModel('gpt-5.4-mini');
        const dataDir = tempDataDir();
        // OPENAI_CHECK_MODELS is left to its default: on, since a key is set.
        const proc = spawnCallwatch(await baseEnv(dataDir, { OPENAI_API_KEY: openaiApi.apiKey, OPENAI_BASE_URL: openaiApi.url }));
        const exit = await exitWithin(proc, 30_000, 'start-up with a retired model');

        expect(exit, describeProcess(proc)).toEqual({ code: 1, signal: null });
        expect(singleStderrLine(proc)).toBe('callwatch: cannot start: OPENAI_TEXT_MODEL=gpt-5.4-mini: OpenAI has no such model (or this key cannot use it)');
        expect(proc.stdout()).not.toContain('"msg":"migrations applied"');
        expect(existsSync(postmasterPidFile(dataDir)), 'postgres left running').toBe(false);
      } finally {
        await openaiApi.close();
      }
    },
    60_000,
  );

  it(
    'finishes starting, then stops cleanly, when SIGTERM arrives during start-up',
    async () => {
      const dataDir = tempDataDir();
      const proc = spawnCallwatch(await baseEnv(dataDir));
      // "starting" is logged once the signal handlers are in place, before the database
      // (initdb on this fresh directory takes a second or more) is up.
      await printed(proc.child, proc.stdout, '"msg":"starting"', () => describeProcess(proc));
      proc.child.kill('SIGTERM');

      const exit = await exitWithin(proc, 30_000, 'shutdown requested during start-up');
      expect(exit, describeProcess(proc)).toEqual({ code: 0, signal: null });
      // Start-up ran to the end (nothing half-initialised), then everything was closed.
      const started = proc.stdout().indexOf('"msg":"callwatch started"');
      expect(started, describeProcess(proc)).toBeGreaterThan(-1);
      expect(proc.stdout().indexOf('"msg":"stopped"')).toBeGreaterThan(started);
      expect(proc.stderr()).toBe('');
      expect(existsSync(postmasterPidFile(dataDir)), 'postgres left running').toBe(false);
    },
    60_000,
  );
});
