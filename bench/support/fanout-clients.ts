import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { clockOffset } from './fanout-subscribers.ts';

/**
 * The subscribers of bench:fanout run in child processes (`fanout-clients.child.ts`), so
 * their reading and parsing does not compete with the fan-out for the server's event loop.
 * This is the bench's side: it forks them, shares the subscribers out, and gathers what they
 * received. Messages go over the IPC channel with `serialization: 'advanced'`, so the
 * latencies come back as Float64Arrays rather than JSON.
 */

/** What the clients subscribe to: the bare baseline server, or Callwatch's `callEvents` over graphql-ws. */
export type ClientTarget = { kind: 'raw'; url: string } | { kind: 'graphql'; url: string; apiKey: string; callId: string };

/** Bench → client process. */
export type ParentMessage =
  | { type: 'open'; target: ClientTarget; firstSubscriber: number; count: number; events: number }
  | { type: 'collect'; timeoutMs: number }
  | { type: 'close' };

/** Client process → bench. */
export type ChildMessage =
  | { type: 'up'; clockOffset: number }
  | { type: 'opened' }
  | { type: 'warmed' }
  | ({ type: 'receipts' } & CollectedReceipts)
  | { type: 'failed'; message: string };

export interface CollectedReceipts {
  /** Receipt − publish, ms, per (event, subscriber). */
  latencies: Float64Array;
  /** Per event, when the last subscriber had it, ms after publish. */
  lastReceipt: Float64Array;
  /** Null when every subscriber got every event once, in order; else the first thing wrong. */
  problem: string | null;
}

export interface ClientProcesses {
  /** How far apart this process's clock and the clients' were, at most, ms: the error of every latency. */
  clockSkewMs: number;
  /** Opens the subscribers of `target`, shared out over the processes, each expecting `events` events. */
  open(target: ClientTarget, events: number): Promise<void>;
  /** Whether every subscriber has had a warm-up event; throws when a client process failed. */
  allWarmed(): boolean;
  /** Waits (up to `timeoutMs`) for every subscriber's receipts and merges them. */
  collect(timeoutMs: number): Promise<CollectedReceipts>;
  /** Closes the subscribers and ends the processes; SIGKILL for one that does not exit. */
  close(): Promise<void>;
}

const childFile = fileURLToPath(new URL('./fanout-clients.child.ts', import.meta.url));

/** One forked client process: its replies awaited by type, its failure remembered. */
class ClientProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  warmed = false;
  failure: string | null = null;
  readonly #waiting = new Map<ChildMessage['type'], { resolve: (message: ChildMessage) => void; reject: (error: Error) => void }>();

  constructor() {
    // BENCH_CHILD_NODE_ARGS go to the children's node only, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`.
    const execArgv = process.env.BENCH_CHILD_NODE_ARGS?.split(/\s+/).filter(Boolean) ?? [];
    this.child = fork(childFile, [], { execPath: process.execPath, execArgv, serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    // A client process outlives neither the bench's deadline nor a crash of the bench.
    const killOnExit = () => this.child.kill('SIGKILL');
    process.on('exit', killOnExit);
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        process.off('exit', killOnExit);
        this.#fail(`client process ${this.child.pid} exited (${signal ?? code})`);
        resolve();
      }),
    );
    this.child.on('message', (raw) => {
      const message = raw as ChildMessage;
      if (message.type === 'warmed') this.warmed = true;
      else if (message.type === 'failed') this.#fail(`client process ${this.child.pid}: ${message.message}`);
      else {
        this.#waiting.get(message.type)?.resolve(message);
        this.#waiting.delete(message.type);
      }
    });
  }

  /** The next message of `type`, registered before `send` goes so the reply cannot come first. */
  request<T extends ChildMessage['type']>(type: T, send?: ParentMessage): Promise<Extract<ChildMessage, { type: T }>> {
    if (this.failure) return Promise.reject(new Error(this.failure));
    const reply = new Promise<ChildMessage>((resolve, reject) => this.#waiting.set(type, { resolve, reject }));
    if (send) this.child.send(send);
    return reply as Promise<Extract<ChildMessage, { type: T }>>;
  }

  async close(timeoutMs = 5_000): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      if (this.child.connected) this.child.send({ type: 'close' } satisfies ParentMessage);
      else this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
      await this.exited;
      clearTimeout(timer);
    }
  }

  #fail(reason: string): void {
    this.failure ??= reason;
    for (const { reject } of this.#waiting.values()) reject(new Error(this.failure));
    this.#waiting.clear();
  }
}

/**
 * Forks `processes` client processes (at most one per subscriber) for `subscribers`
 * subscribers and waits until each has loaded. Fails, with every process ended, when one
 * does not come up.
 */
export async function startClientProcesses(processes: number, subscribers: number): Promise<ClientProcesses> {
  const clients = Array.from({ length: Math.min(processes, subscribers) }, () => new ClientProcess());
  const close = async () => {
    await Promise.all(clients.map((client) => client.close()));
  };
  let clockSkewMs = 0;
  try {
    const ups = await Promise.all(clients.map((client) => client.request('up')));
    const ours = clockOffset();
    clockSkewMs = Math.max(...ups.map((up) => Math.abs(up.clockOffset - ours)));
  } catch (error) {
    await close();
    throw error;
  }
  // Each process gets a contiguous range of subscribers; the ranges' sizes differ by at most one.
  const shares = clients.map((_, i) => {
    const from = Math.floor((i * subscribers) / clients.length);
    return { firstSubscriber: from, count: Math.floor(((i + 1) * subscribers) / clients.length) - from };
  });

  return {
    clockSkewMs,
    async open(target, events) {
      await Promise.all(clients.map((client, i) => client.request('opened', { type: 'open', target, events, ...shares[i]! })));
    },
    allWarmed() {
      const failed = clients.find((client) => client.failure);
      if (failed) throw new Error(failed.failure!);
      return clients.every((client) => client.warmed);
    },
    async collect(timeoutMs) {
      const parts = await Promise.all(clients.map((client) => client.request('receipts', { type: 'collect', timeoutMs })));
      const latencies = new Float64Array(parts.reduce((sum, part) => sum + part.latencies.length, 0));
      let at = 0;
      for (const part of parts) {
        latencies.set(part.latencies, at);
        at += part.latencies.length;
      }
      // The last subscriber of an event is the latest over all processes; Math.max keeps a NaN (nobody had it).
      const lastReceipt = new Float64Array(parts[0]!.lastReceipt.length).fill(Number.NEGATIVE_INFINITY);
      for (const part of parts) part.lastReceipt.forEach((latency, seq) => (lastReceipt[seq] = Math.max(lastReceipt[seq]!, latency)));
      return { latencies, lastReceipt, problem: parts.find((part) => part.problem !== null)?.problem ?? null };
    },
    close,
  };
}
