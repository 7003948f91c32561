import { createConnection } from 'node:net';
import { createClient, type Client } from 'graphql-ws';
import WebSocket, { WebSocketServer } from 'ws';
import type { CallEvent } from '../../src/core/events.ts';

/**
 * What the subscribers of one client process received. Each event carries its sequence
 * number and its publish time in `delta` (see `benchClock`), so a receipt is timed on arrival
 * without asking the publisher, which runs in another process.
 */
export class Receipts {
  /** Per subscriber, the sequence numbers received, in arrival order (warm-up events left out). */
  readonly seqs: number[][];
  /** Whether each subscriber has received at least one warm-up event. */
  readonly warmed: boolean[];
  /** Receipt − publish, in ms, per (event, subscriber). */
  readonly latencies: number[] = [];
  /** Per event, the latest receipt − publish: when the last subscriber had it. */
  readonly lastReceipt: number[];
  readonly errors: string[] = [];
  received = 0;
  /** The global index of this process's subscriber 0, so problems name the subscriber the run knows. */
  readonly firstSubscriber: number;
  #warmedCount = 0;
  readonly #onAllWarmed: () => void;

  constructor(subscribers: number, events: number, firstSubscriber = 0, onAllWarmed: () => void = () => {}) {
    this.firstSubscriber = firstSubscriber;
    this.#onAllWarmed = onAllWarmed;
    this.seqs = Array.from({ length: subscribers }, () => []);
    this.warmed = new Array<boolean>(subscribers).fill(false);
    this.lastReceipt = new Array<number>(events).fill(Number.NaN);
  }

  /** Records that `subscriber` (local index) received `event`, read at `at` (`benchClock()`). */
  record(subscriber: number, event: unknown, at: number): void {
    const delta = (event as { delta?: unknown } | null)?.delta;
    const [seqText, sentText] = typeof delta === 'string' ? delta.split(' ') : [];
    const seq = Number(seqText);
    const sent = Number(sentText);
    if (!Number.isInteger(seq) || !Number.isFinite(sent)) {
      this.errors.push(`subscriber ${this.firstSubscriber + subscriber}: unexpected event ${JSON.stringify(event).slice(0, 200)}`);
      return;
    }
    if (seq < 0) {
      if (!this.warmed[subscriber]) {
        this.warmed[subscriber] = true;
        if (++this.#warmedCount === this.warmed.length) this.#onAllWarmed();
      }
      return;
    }
    const latency = at - sent;
    this.seqs[subscriber]!.push(seq);
    this.latencies.push(latency);
    this.received++;
    if (!(this.lastReceipt[seq]! >= latency)) this.lastReceipt[seq] = latency;
  }

  /** Null when every subscriber got events 0‥events−1 exactly once, in order; else what went wrong first. */
  problem(events: number): string | null {
    if (this.errors.length > 0) return `${this.errors.length} error(s), first: ${this.errors[0]}`;
    for (const [subscriber, seqs] of this.seqs.entries()) {
      const name = `subscriber ${this.firstSubscriber + subscriber}`;
      if (seqs.length !== events) return `${name} received ${seqs.length} of ${events} events`;
      const wrong = seqs.findIndex((seq, i) => seq !== i);
      if (wrong >= 0) return `${name}: event #${wrong} received was seq ${seqs[wrong]} (duplicate or out of order)`;
    }
    return null;
  }
}

/**
 * The clock of publish and receipt times, in ms: wall-clock based, so the publisher's process
 * and the client processes read the same time. `performance.now()` alone counts from each
 * process's own start; `Date.now()` has only whole milliseconds. `timeOrigin` is the wall
 * clock (µs) read once at process start and `now()` the monotonic clock since, so two
 * processes disagree by the gap between those two start-up reads plus however much NTP slewed
 * the wall clock between their starts (≤ 500 ppm of that time). `clockOffset` measures it:
 * 10–60 µs here, constant for a process's life, so latencies are good to well under 0.1 ms.
 */
export function benchClock(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * This process's `benchClock` minus the monotonic clock (`process.hrtime`, CLOCK_MONOTONIC,
 * one for the whole machine on Linux): the difference between two processes' offsets is how
 * far apart their `benchClock`s are, i.e. the error of a latency measured across them.
 */
export function clockOffset(): number {
  return benchClock() - Number(process.hrtime.bigint()) / 1e6;
}

/** A transcript delta of `callId` stamped with `seq` (−1 for warm-up) and its publish time. */
export function stampedEvent(callId: string, seq: number): CallEvent {
  const sent = benchClock();
  return { type: 'transcript.delta', callId, speaker: 'agent', itemId: 'item_1', delta: `${seq} ${sent} שלום`, at: new Date().toISOString() };
}

export interface Subscribers {
  close(): Promise<void>;
}

const subscription = /* GraphQL */ `
  subscription CallEvents($id: ID!) {
    callEvents(callId: $id) { type data }
  }
`;

/**
 * `count` graphql-ws clients of `url`, each subscribed to `callEvents(callId)` with the API
 * key in connectionParams, recording into `receipts`. Opened `batch` at a time so the
 * connection checks do not queue behind each other on the database pool.
 */
export async function openGraphQLSubscribers(url: string, apiKey: string, callId: string, count: number, receipts: Receipts, batch = 50): Promise<Subscribers> {
  const clients: Client[] = [];
  const close = async () => {
    await Promise.all(clients.map((client) => client.dispose()));
  };
  try {
    for (let from = 0; from < count; from += batch) {
      const opened = Array.from({ length: Math.min(batch, count - from) }, (_, i) => {
        const subscriber = from + i;
        return new Promise<void>((resolve, reject) => {
          const client = createClient({ url, webSocketImpl: WebSocket, connectionParams: { apiKey }, retryAttempts: 0, lazy: false, on: { connected: () => resolve() }, onNonLazyError: reject });
          clients.push(client);
          client.subscribe<{ callEvents: { type: string; data: unknown } }>(
            { query: subscription, variables: { id: callId } },
            {
              next: (result) => {
                const at = benchClock();
                if (result.errors?.length) receipts.errors.push(`subscriber ${receipts.firstSubscriber + subscriber}: ${result.errors.map((e) => e.message).join('; ')}`);
                else receipts.record(subscriber, result.data?.callEvents.data, at);
              },
              error: (error) => receipts.errors.push(`subscriber ${receipts.firstSubscriber + subscriber}: ${error instanceof Error ? error.message : JSON.stringify(error)}`),
              complete: () => {},
            },
          );
        });
      });
      await Promise.all(opened);
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { close };
}

export interface RawFanOutServer {
  /** ws:// URL the clients connect to. */
  url: string;
  /** Sends `event` to every socket as one `next` message of graphql-ws, serialised once. */
  broadcast(event: CallEvent): void;
  close(): Promise<void>;
}

/**
 * The baseline's server: a bare `ws` server on loopback sending each event to every socket
 * as the same JSON frame graphql-ws would send — no GraphQL, no bus, no per-subscriber
 * execution.
 */
export async function startRawFanOutServer(): Promise<RawFanOutServer> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  const { port } = server.address() as { port: number };
  return {
    url: `ws://127.0.0.1:${port}`,
    broadcast(event) {
      const frame = JSON.stringify({ id: '1', type: 'next', payload: { data: { callEvents: { type: event.type, data: event } } } });
      for (const socket of server.clients) socket.send(frame);
    },
    async close() {
      for (const socket of server.clients) socket.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The baseline's clients: `count` bare `ws` sockets of `url` that parse each frame, as graphql-ws clients do. */
export async function openRawSubscribers(url: string, count: number, receipts: Receipts): Promise<Subscribers> {
  const sockets: WebSocket[] = [];
  const close = async () => {
    for (const socket of sockets) socket.terminate();
  };
  try {
    await Promise.all(
      Array.from({ length: count }, (_, subscriber) => {
        const socket = new WebSocket(url, { perMessageDeflate: false });
        sockets.push(socket);
        socket.on('message', (frame) => {
          const at = benchClock();
          const message = JSON.parse(String(frame)) as { payload?: { data?: { callEvents?: { data?: unknown } } } };
          receipts.record(subscriber, message.payload?.data?.callEvents?.data, at);
        });
        return new Promise<void>((resolve, reject) => socket.once('open', () => resolve()).once('error', reject));
      }),
    );
  } catch (error) {
    await close();
    throw error;
  }
  return { close };
}

/** Whether something answers PING with PONG on `host:port` within `timeoutMs`; the reason when not. */
export function redisAnswers(host: string, port: number, timeoutMs = 1_000): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (reason: string | null) => {
      socket.destroy();
      resolve(reason);
    };
    socket.setTimeout(timeoutMs, () => done(`no answer from ${host}:${port} within ${timeoutMs} ms`));
    socket.once('error', (error) => done(`${host}:${port}: ${error.message}`));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(String(data).startsWith('+PONG') ? null : `${host}:${port} answered ${JSON.stringify(String(data).slice(0, 40))} to PING`));
  });
}
