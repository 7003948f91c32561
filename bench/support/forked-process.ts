import { fork, type ChildProcess } from 'node:child_process';
import { sleep } from './args.ts';

/**
 * A TypeScript file forked with an IPC channel, spoken to by request and reply: `request`
 * sends a message and waits for the next one of the type it names. A child that reports
 * `{ type: 'failed', message }` or exits fails every request from then on; one left behind
 * by a crash of the benchmark is killed on exit.
 */
export class ForkedProcess<Send extends { type: string }, Receive extends { type: string }> {
  readonly child: ChildProcess;
  readonly #waiting = new Map<string, (message: Receive) => void>();
  #failure: string | null = null;

  /** `nodeArgs` go to the child's node (e.g. `--expose-gc`), before any in BENCH_CHILD_NODE_ARGS. */
  constructor(file: URL, env: NodeJS.ProcessEnv, nodeArgs: string[] = []) {
    // BENCH_CHILD_NODE_ARGS go to the child's node only, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`.
    const execArgv = [...nodeArgs, ...(process.env.BENCH_CHILD_NODE_ARGS?.split(/\s+/).filter(Boolean) ?? [])];
    this.child = fork(file, [], { env: { ...process.env, ...env }, execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const killOnExit = () => this.child.kill('SIGKILL');
    process.on('exit', killOnExit);
    this.child.once('exit', (code, signal) => {
      process.off('exit', killOnExit);
      this.#failure ??= `${file.pathname} exited (${signal ?? code})`;
    });
    this.child.on('message', (raw) => {
      const message = raw as Receive & { message?: string };
      if (message.type === 'failed') this.#failure = `${file.pathname}: ${message.message}`;
      this.#waiting.get(message.type)?.(message);
      this.#waiting.delete(message.type);
    });
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error('the child process has no pid');
    return this.child.pid;
  }

  send(message: Send): void {
    this.child.send(message);
  }

  /** Sends `message` (if any) and resolves with the next message of `type`; fails on the child's failure or after `timeoutMs`. */
  async request<T extends Receive['type']>(type: T, message?: Send, timeoutMs = 120_000): Promise<Extract<Receive, { type: T }>> {
    const reply = new Promise<Receive>((resolve) => this.#waiting.set(type, resolve));
    if (message) this.send(message);
    const until = performance.now() + timeoutMs;
    for (;;) {
      const settled = await Promise.race([reply, sleep(100).then(() => null)]);
      if (settled) return settled as Extract<Receive, { type: T }>;
      if (this.#failure) throw new Error(this.#failure);
      if (performance.now() > until) throw new Error(`no ${type} from the child process after ${timeoutMs} ms`);
    }
  }

  /** Sends `closing`, then waits for the exit; SIGKILL after `timeoutMs`. */
  async close(closing: Send, timeoutMs = 10_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    if (this.child.connected) this.send(closing);
    else this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
  }
}

/**
 * Runs a forked child's `main`; a failure is reported to the parent as
 * `{ type: 'failed', message }` (which fails its requests at once) and ends the child.
 */
export function runChild(main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    process.send?.({ type: 'failed', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    process.exit(1);
  });
}
