import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection } from 'node:net';
import { Redis } from 'ioredis';
import { freePort } from '../../src/sandbox/ports.ts';

/** Debian's Redis (`apt-get install redis-server`; `.ci/run` installs it when missing). */
const redisServerBinary = '/usr/bin/redis-server';

export interface RedisServer {
  port: number;
  url: string;
  /** SIGKILLs the server (no shutdown, no goodbye to clients) and waits until it is gone. */
  kill: () => Promise<void>;
  /** Starts the server again on the same port; resolves once it answers PING. */
  restart: () => Promise<void>;
  /** Stops it for good (idempotent). */
  stop: () => Promise<void>;
  /** How many connections are subscribed to `channel` now (PUBSUB NUMSUB). */
  subscribers: (channel: string) => Promise<number>;
}

/**
 * A real `redis-server` of the test's own on a free loopback port, without persistence,
 * run as a child process so a test can kill it and bring it back like an outage would.
 */
export async function startRedisServer(): Promise<RedisServer> {
  const port = await freePort();
  let child: { process: ChildProcess; closed: Promise<void>; output: () => string } | undefined;

  const launch = async () => {
    const proc = spawn(redisServerBinary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    proc.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    proc.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    // 'close' comes after the exit and after both pipes closed: nothing of the child is left.
    const closed = new Promise<void>((resolve) => proc.once('close', () => resolve()));
    proc.once('error', () => {});
    child = { process: proc, closed, output: () => output };
    await answersPing(port, () => proc.exitCode !== null || proc.signalCode !== null, () => output);
  };

  const kill = async () => {
    const current = child;
    child = undefined;
    if (!current) return;
    if (current.process.pid !== undefined && current.process.exitCode === null && current.process.signalCode === null) {
      process.kill(current.process.pid, 'SIGKILL');
    }
    await current.closed;
  };

  await launch();
  const url = `redis://127.0.0.1:${port}`;
  const subscribers = async (channel: string) => {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    try {
      await client.connect();
      const [, count] = (await client.pubsub('NUMSUB', channel)) as [string, number];
      return count;
    } finally {
      client.disconnect();
    }
  };
  return { port, url, kill, restart: launch, stop: kill, subscribers };
}

/** Polls with PING until the server answers PONG; fails at once if it exited meanwhile. */
async function answersPing(port: number, exited: () => boolean, output: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await ping(port))) {
    if (exited()) throw new Error(`redis-server exited on start:\n${output()}`);
    if (Date.now() > deadline) throw new Error(`redis-server did not answer PING on port ${port} within 10 s:\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    const done = (answer: boolean) => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
    socket.write('PING\r\n');
  });
}
