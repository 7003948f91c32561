import type { RawData, WebSocket } from 'ws';
import { describeError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import type { Metrics } from '../../core/metrics.ts';
import type { RealtimeConnection } from './call-session.ts';

/** How long a pre-opened session waits for its media stream; Twilio connects within seconds. */
export const defaultPreopenTtlMs = 15_000;

/**
 * OpenAI Realtime connections opened by the signed voice webhook, waiting for their call's
 * media stream on this instance. Opening while Twilio connects the stream hides the
 * connection's set-up time behind Twilio's, so the greeting starts sooner; and only a
 * Twilio-signed request can open one — an anonymous media socket never does.
 *
 * Invariants: at most one waiting connection per call; what it receives while it waits
 * (`session.created`, an error) is kept for the call, in order; a connection that fails
 * while it waits is forgotten (the stream then opens its own); one nobody takes is closed
 * after `ttlMs`, so an abandoned call costs no OpenAI session.
 */
export class PreopenedSessions {
  readonly #open: () => WebSocket;
  readonly #metrics: Metrics;
  readonly #log: Logger;
  readonly #ttlMs: number;
  readonly #waiting = new Map<string, { socket: WebSocket; timer: NodeJS.Timeout; early: RawData[]; keep: (data: RawData) => void }>();

  constructor(options: { open: () => WebSocket; metrics: Metrics; logger: Logger; ttlMs?: number }) {
    this.#open = options.open;
    this.#metrics = options.metrics;
    this.#log = options.logger.child({ component: 'preopened-sessions' });
    this.#ttlMs = options.ttlMs ?? defaultPreopenTtlMs;
  }

  /** Opens a connection for `callSid`'s stream (replacing one already waiting for it). */
  preopen(callSid: string): void {
    this.#discard(callSid);
    const socket = this.#open();
    // A failure while nobody holds the socket must not become an unhandled 'error' event.
    socket.on('error', (error) => {
      if (this.#waiting.get(callSid)?.socket === socket) this.#log.warn({ callSid, err: describeError(error) }, 'pre-opened OpenAI connection failed');
    });
    socket.once('close', () => {
      if (this.#waiting.get(callSid)?.socket === socket) this.#discard(callSid);
    });
    const timer = setTimeout(() => {
      if (this.#waiting.get(callSid)?.socket !== socket) return;
      this.#metrics.increment('realtime_preopened_unused_total');
      this.#discard(callSid);
    }, this.#ttlMs);
    timer.unref();
    const early: RawData[] = [];
    const keep = (data: RawData) => early.push(data);
    socket.on('message', keep);
    this.#waiting.set(callSid, { socket, timer, early, keep });
    this.#metrics.increment('realtime_preopened_total');
  }

  /** The connection waiting for `callSid`, removed from the wait, if it is open or opening. */
  take(callSid: string): RealtimeConnection | undefined {
    const entry = this.#waiting.get(callSid);
    if (!entry) return undefined;
    this.#waiting.delete(callSid);
    clearTimeout(entry.timer);
    const { socket, early, keep } = entry;
    socket.off('message', keep);
    if (socket.readyState !== socket.OPEN && socket.readyState !== socket.CONNECTING) return undefined;
    this.#metrics.increment('realtime_preopened_used_total');
    return { socket, early };
  }

  /** Closes every waiting connection. */
  close(): void {
    for (const callSid of [...this.#waiting.keys()]) this.#discard(callSid);
  }

  #discard(callSid: string): void {
    const entry = this.#waiting.get(callSid);
    if (!entry) return;
    this.#waiting.delete(callSid);
    clearTimeout(entry.timer);
    const { socket } = entry;
    if (socket.readyState === socket.CONNECTING) socket.terminate();
    else if (socket.readyState === socket.OPEN) socket.close(1000, 'not needed');
  }
}
