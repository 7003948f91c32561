import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/sandbox/ports.ts';

const repoRoot = new URL('../..', import.meta.url).pathname;

export interface CallwatchProcess {
  child: ChildProcess;
  /** Base URL of its HTTP server. */
  url: string;
  stdout: () => string;
  stderr: () => string;
  /** Whether the process has not exited yet. */
  running: () => boolean;
  /** Resolves once the process has exited and its pipes are closed. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The tail of its output, for failure messages. */
  describe: () => string;
  /** SIGTERM, then SIGKILL if it has not exited within 15 s; waits for the exit. */
  stop: () => Promise<void>;
}

/**
 * `node src/main.ts` as a child process on a free port, with exactly `env` (plus PATH, HOME
 * and a data directory of its own): a crash is a real process exit a test can see. Resolves
 * once GET /ready answers 200; fails with the process's output if it exits first.
 */
export async function startCallwatchProcess(env: Record<string, string>): Promise<CallwatchProcess> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'callwatch-child-'));
  const child = spawn(process.execPath, ['src/main.ts'], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? tmpdir(), DATA_DIR: dataDir, PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.once('exit', (code, signal) => (exit = { code, signal }));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('close', (code, signal) => {
      rmSync(dataDir, { recursive: true, force: true });
      resolve(exit ?? { code, signal });
    });
    child.once('error', () => {});
  });
  const describe = () => `\n--- exit: ${JSON.stringify(exit ?? null)}\n--- stderr ---\n${stderr.slice(-4_000)}\n--- stdout (tail) ---\n${stdout.slice(-4_000)}`;
  const proc: CallwatchProcess = {
    child,
    url: `http://127.0.0.1:${port}`,
    stdout: () => stdout,
    stderr: () => stderr,
    running: () => exit === undefined,
    exited,
    describe,
    async stop() {
      if (exit === undefined) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
  try {
    await untilReady(proc);
  } catch (error) {
    await proc.stop();
    throw error;
  }
  return proc;
}

/**
 * Resolves once `child` has printed `text` on stdout (`stdout()`: all of it so far), checked
 * as each chunk arrives; rejects, with `describe()` appended, if it exits first.
 */
export function printed(child: ChildProcess, stdout: () => string, text: string, describe: () => string = () => ''): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const check = () => stdout().includes(text) && (stop(), resolve());
    const exited = () => (stop(), reject(new Error(`exited before printing ${text}${describe()}`)));
    const stop = () => (child.stdout?.off('data', check), child.off('exit', exited));
    child.stdout?.on('data', check);
    child.once('exit', exited);
    check();
  });
}

async function untilReady(proc: CallwatchProcess): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (!proc.running()) throw new Error(`callwatch exited while starting${proc.describe()}`);
    const status = await fetch(`${proc.url}/ready`).then((response) => response.status, () => 0);
    if (status === 200) return;
    if (Date.now() > deadline) throw new Error(`callwatch was not ready within 30 s${proc.describe()}`);
    // A poll: /ready answering 200 is the readiness being waited for.
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * `node src/main.ts` as a worker process (ROLE=worker: job handlers only, no HTTP server,
 * so nothing to wait for) with `env`, quiet, its stderr on the test's. The caller ends it
 * (SIGKILL, in fault tests) or hands it to stopWorkerProcesses.
 */
export function startWorkerProcess(env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['src/main.ts'], {
    cwd: repoRoot,
    env: { ...env, PATH: process.env.PATH ?? '', ROLE: 'worker', NODE_ENV: 'test', LOG_LEVEL: 'silent', MIGRATE_ON_START: 'false' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

/** Whether `child` has not exited yet. */
export function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** SIGKILLs `child` (unless it has exited) and waits until it has closed. */
export async function killProcess(child: ChildProcess): Promise<void> {
  if (!isRunning(child)) return;
  const closed = new Promise((resolve) => child.once('close', resolve));
  child.kill('SIGKILL');
  await closed;
}

/** The worker processes a test starts; `stopAll` (in afterAll) kills those still running. */
export class WorkerProcesses {
  readonly #children: ChildProcess[] = [];

  start(env: Record<string, string>): ChildProcess {
    const child = startWorkerProcess(env);
    this.#children.push(child);
    return child;
  }

  /** One that is still running, if any. */
  running(): ChildProcess | undefined {
    return this.#children.find(isRunning);
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.#children.map(killProcess));
  }
}
