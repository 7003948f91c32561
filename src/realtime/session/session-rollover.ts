import type { SessionUpdateEvent } from 'openai/resources/realtime/realtime';
import type { WebSocket } from 'ws';
import { describeError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { parseServerEvent } from './openai-realtime.server-events.ts';

export interface SessionRolloverHost {
  log: Logger;
  /** Opens a new OpenAI socket for this call. */
  open(): WebSocket;
  /** This call's session.update, with `eventId`. */
  sessionUpdate(eventId: string): SessionUpdateEvent;
  /** The call could move now: live, configured, and nothing going on that a move would cut. */
  canMove(): boolean;
  /** The next session is configured (μ-law both ways): move the call to it. Its listeners are the host's now. */
  moveTo(socket: WebSocket, eventId: string): void;
  /** Runs a timer's or socket's handler the way the call contains its handlers. */
  contain(handler: () => void): void;
}

export interface SessionRolloverOptions {
  /** How long one session carries the call before it is moved (OPENAI_SESSION_MAX_SEC). */
  maxMs: number;
  /** How long the next session may take to be configured before the move is given up (and tried again). */
  connectTimeoutMs: number;
  /** After a move that could not happen, how long until it is tried again. */
  retryMs: number;
}

/**
 * The planned move of a call to a new OpenAI session before OpenAI's cap (60 minutes). Once
 * the current session is `maxMs` old the move is due, and made at the first quiet moment
 * after (`maybeNow`, called at each moment that may be one): the next session is set up
 * BESIDE the current one, which keeps carrying the call — audio, VAD — until the next one
 * has taken our configuration; then the host moves the call over (restoring the
 * conversation). Nothing is cut, so the caller hears no apology and no gap. A next session
 * that fails, refuses the configuration, or arrives when the call got busy is closed, and
 * the move is tried again `retryMs` later. Owns one timer and at most one socket; `stop()`
 * closes both.
 */
export class SessionRollover {
  readonly #host: SessionRolloverHost;
  readonly #options: SessionRolloverOptions;
  #due = false;
  #timer: NodeJS.Timeout | undefined;
  #next: { socket: WebSocket; eventId: string; timer: NodeJS.Timeout } | undefined;
  #seq = 0;

  constructor(host: SessionRolloverHost, options: SessionRolloverOptions) {
    this.#host = host;
    this.#options = options;
  }

  /** A session began carrying the call: its move is due `maxMs` from now. */
  schedule(): void {
    this.stop();
    this.#dueIn(this.#options.maxMs);
  }

  /** Nothing is due any more, no next session is set up (the call ended, or its session is being replaced). */
  stop(): void {
    clearTimeout(this.#timer);
    this.#due = false;
    this.#closeNext();
  }

  /** A moment that may be quiet: when the move is due and the call can move, the next session is set up. */
  maybeNow(): void {
    if (!this.#due || this.#next || !this.#host.canMove()) return;
    const socket = this.#host.open();
    const eventId = `cw_rollover_${++this.#seq}`;
    const timer = setTimeout(() => {
      this.#host.log.warn('the next OpenAI session did not come up in time: the rollover is tried again later');
      this.#retry();
    }, this.#options.connectTimeoutMs);
    this.#next = { socket, eventId, timer };
    const configure = () => socket.send(JSON.stringify({ ...this.#host.sessionUpdate(eventId), event_id: eventId }));
    if (socket.readyState === socket.OPEN) configure();
    else socket.once('open', () => this.#host.contain(configure));
    socket.on('message', (data) => this.#host.contain(() => this.#onMessage(socket, data.toString())));
    socket.on('close', () => {
      if (this.#next?.socket === socket) this.#retry();
    });
    socket.on('error', (error) => this.#host.log.warn({ err: describeError(error) }, 'openai socket error (the next session)'));
  }

  /** What the next session says before the call moves to it: only its answer to our configuration matters. */
  #onMessage(socket: WebSocket, raw: string): void {
    const next = this.#next;
    if (next?.socket !== socket) return;
    const parsed = parseServerEvent(raw);
    if (parsed.kind !== 'event') return;
    const event = parsed.event;
    if (event.type === 'error' && event.error.event_id === next.eventId) {
      this.#host.log.error({ message: event.error.message }, 'the next OpenAI session refused its configuration: the rollover is tried again later');
      return this.#retry();
    }
    if (event.type !== 'session.updated') return;
    const audio = event.session.audio;
    if (audio?.input?.format?.type !== 'audio/pcmu' || audio.output?.format?.type !== 'audio/pcmu') return this.#retry();
    // Something started while the next session came up (the caller spoke, the agent answers).
    if (!this.#host.canMove()) return this.#retry();
    clearTimeout(next.timer);
    this.#next = undefined;
    this.#due = false;
    socket.removeAllListeners('message');
    socket.removeAllListeners('close');
    socket.removeAllListeners('error');
    this.#host.moveTo(socket, next.eventId);
  }

  #retry(): void {
    this.#closeNext();
    clearTimeout(this.#timer);
    this.#due = false;
    this.#dueIn(this.#options.retryMs);
  }

  #dueIn(ms: number): void {
    this.#timer = setTimeout(() => {
      this.#due = true;
      this.#host.contain(() => this.maybeNow());
    }, ms);
  }

  #closeNext(): void {
    const next = this.#next;
    if (!next) return;
    this.#next = undefined;
    clearTimeout(next.timer);
    if (next.socket.readyState === next.socket.CONNECTING) next.socket.terminate();
    else if (next.socket.readyState === next.socket.OPEN) next.socket.close(1000, 'not needed');
  }
}
