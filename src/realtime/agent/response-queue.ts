import type { RateLimitsUpdatedEvent, ResponseCancelEvent, ResponseCreateEvent } from 'openai/resources/realtime/realtime';
import type { ServerEventOf } from '../session/openai-realtime.server-events.ts';

/** A response as `response.created` reports it (the fields parsed at the boundary). */
export type CreatedResponse = Pick<ServerEventOf<'response.created'>['response'], 'id' | 'metadata'>;
/** A response as `response.done` reports it. */
export type FinishedResponse = Pick<ServerEventOf<'response.done'>['response'], 'id' | 'status' | 'status_details' | 'metadata'>;

/** Why Callwatch asks the model for a response (server VAD starts the others by itself). */
export type ResponseReason = 'greeting' | 'tool-results' | 'reprompt' | 'goodbye' | 'key-press' | 'resume' | 'retry';

/** A response Callwatch wants the model to give. */
export interface ResponseRequest {
  reason: ResponseReason;
  /** What to do right now (agent-lines.ts); none: answer from the conversation as it stands. */
  directive?: string;
  /** Called once when this request's response is over: `completed`, `cancelled` or `incomplete` (a failure is retried). */
  done?: (status: 'completed' | 'cancelled' | 'incomplete') => void;
}

export interface ResponseQueueHost {
  /** Sends `response.create` / `response.cancel` on the current OpenAI session. */
  send(event: ResponseCreateEvent | ResponseCancelEvent): void;
  /** The whole instructions of a response with this directive (agent-lines.ts `responseInstructions`). */
  instructions(directive: string): string;
  /** The directive of a retry after a response ended `incomplete`. */
  continueDirective(): string;
  /** The directive of a retry of a response the server started (VAD) and failed. */
  answerDirective(): string;
  /** A response failed or was cut off; `retryInMs` undefined when no retry follows. */
  failed(code: string, retryInMs: number | undefined): void;
  /** Retries are spent, or the service asks to wait longer than a caller would: the agent is lost. */
  lost(problem: string): void;
}

/** How often a failed response is tried again before the agent is given up. */
export const maxResponseRetries = 2;
/** Back-off before retry n (1-based): 250 ms, then 1 s. */
const retryBackoffMs = [250, 1000];
/** A rate limit that resets later than this is not waited out: the caller would hear seconds of silence. */
export const maxRateLimitWaitMs = 4000;

/** Key of `response.metadata` that names the request a response answers. */
const requestKey = 'callwatch_request';

interface Sent {
  eventId: string;
  request: ResponseRequest;
}

/**
 * The one place that decides when the model is asked to speak. OpenAI allows one active
 * response per conversation, and a `response.create` sent while one is active is refused
 * (`conversation_already_has_active_response`) — and server VAD starts responses of its
 * own at any moment. So every response Callwatch wants goes through here:
 *
 * - At most one request is on its way (sent, `response.created` not yet seen); nothing is
 *   sent while a response is active — requests wait, in order, for its `response.done`.
 * - A request refused because VAD's response got there first goes back to the front and
 *   is sent once that response is done.
 * - What waits and what is dropped: a reprompt is dropped when anything is active or
 *   waiting (the agent is not silent); a goodbye replaces everything waiting and, once
 *   asked for, nothing else is said; everything else waits its turn. Nothing is cancelled
 *   by a request: the agent finishes its sentence. `close()` (the call is handed over or
 *   ended) cancels the active response and drops the rest.
 * - A response that ends `failed` (a rate limit, a server error) or `incomplete` is never
 *   left as silence: it is asked for again after a back-off (a rate limit: after the reset
 *   `rate_limits.updated` reported), at most `maxResponseRetries` times in a row; then, or
 *   when the reset is too far off, the agent is lost (`host.lost`). A response that
 *   completes resets the count; a response VAD starts meanwhile supersedes a pending retry
 *   of VAD's own failed one (the caller spoke again: answer that).
 *
 * Responses are matched to requests by `response.metadata`, which OpenAI echoes in
 * `response.created` / `response.done`; refusals by the request's `event_id`, which
 * OpenAI echoes in `error.event_id`.
 */
export class ResponseQueue {
  readonly #host: ResponseQueueHost;
  #waiting: ResponseRequest[] = [];
  #sent: Sent | undefined;
  /** The active response and the request it answers (undefined: VAD started it). */
  #active: { id: string; request: ResponseRequest | undefined } | undefined;
  #retry: { timer: NodeJS.Timeout; request: ResponseRequest; ofVad: boolean } | undefined;
  #failures = 0;
  #paused = true;
  #closed = false;
  #closing = false;
  #seq = 0;
  /** When each exhausted rate limit resets (`performance.now()` ms), from `rate_limits.updated`. */
  #rateLimitResetAt = 0;

  constructor(host: ResponseQueueHost) {
    this.#host = host;
  }

  /** A response is active or on its way: the agent is talking or about to. */
  get busy(): boolean {
    return this.#sent !== undefined || this.#active !== undefined || this.#retry !== undefined || this.#waiting.length > 0;
  }

  /** The id of the response in progress (created, not yet done), whoever asked for it. */
  get activeId(): string | undefined {
    return this.#active?.id || undefined;
  }

  /** A goodbye was asked for: the call is ending. */
  get closing(): boolean {
    return this.#closing;
  }

  /** Asks for a response; it is sent now or waits (true), or is dropped (false; see the class comment). */
  request(request: ResponseRequest): boolean {
    if (this.#closed || (this.#closing && request.reason !== 'goodbye')) return false;
    if (request.reason === 'reprompt' && this.busy) return false;
    if (request.reason === 'goodbye') {
      this.#closing = true;
      this.#waiting = [];
    }
    this.#waiting.push(request);
    this.#pump();
    return true;
  }

  /** The session can take requests (configured, or configured again after a reconnect). */
  resume(): void {
    this.#paused = false;
    this.#pump();
  }

  /**
   * The session is gone (a reconnect): nothing is active on the next one. A request on
   * its way or in progress is asked for again on the next session; what waits stays.
   */
  pause(): void {
    this.#paused = true;
    const lost = this.#sent?.request ?? this.#active?.request;
    this.#sent = undefined;
    this.#active = undefined;
    if (this.#retry) {
      clearTimeout(this.#retry.timer);
      if (!this.#retry.ofVad) this.#waiting.unshift(this.#retry.request);
      this.#retry = undefined;
    }
    if (lost) this.#waiting.unshift(lost);
  }

  /** Takes what waits (to merge it into one request, say); the queue is left empty. */
  takeWaiting(): ResponseRequest[] {
    return this.#waiting.splice(0);
  }

  /** The call is over or handed over: the active response is cancelled, nothing more is sent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#retry?.timer);
    this.#retry = undefined;
    this.#waiting = [];
    if (this.#active && !this.#paused) this.#host.send({ type: 'response.cancel' });
  }

  /** `response.created`: a response is active now, ours or VAD's. */
  created(response: CreatedResponse): void {
    const id = response.id;
    const requestId = response.metadata?.[requestKey];
    if (this.#sent && requestId === this.#sent.eventId) {
      this.#active = { id, request: this.#sent.request };
      this.#sent = undefined;
      return;
    }
    this.#active = { id, request: undefined };
    // The caller spoke again while VAD's failed response waited for its retry: answer that instead.
    if (this.#retry?.ofVad) {
      clearTimeout(this.#retry.timer);
      this.#retry = undefined;
    }
  }

  /** `response.done`: the active response is over; a failed one is retried; the next request goes. */
  done(response: FinishedResponse): void {
    const active = this.#active?.id === response.id ? this.#active : undefined;
    if (active) this.#active = undefined;
    const status = response.status ?? 'completed';
    if (status === 'completed') this.#failures = 0;
    if (status === 'failed' || status === 'incomplete') this.#retryAfter(response, active?.request);
    else active?.request?.done?.(status === 'cancelled' ? 'cancelled' : 'completed');
    this.#pump();
  }

  /**
   * An `error` event. True when it refused a request of ours (matched by `event_id`): one
   * refused for an active response waits for it; anything else counts as a failed response.
   */
  refused(error: { event_id?: string | null; code?: string | null; type: string; message: string }): boolean {
    const sent = this.#sent;
    if (!sent || !error.event_id || error.event_id !== sent.eventId) return false;
    this.#sent = undefined;
    if (error.code === 'conversation_already_has_active_response') {
      this.#waiting.unshift(sent.request);
      // The response in the way will end with response.done, which sends this again.
      if (!this.#active) this.#pump();
      return true;
    }
    this.#retryAfter({ status: 'failed', status_details: { type: 'failed', error: { code: error.code ?? error.type, message: error.message } } }, sent.request);
    this.#pump();
    return true;
  }

  /** `rate_limits.updated`: remembers when an exhausted limit resets. */
  rateLimits(limits: readonly RateLimitsUpdatedEvent.RateLimit[], now: number): void {
    const resets = limits.filter((limit) => limit.remaining === 0 && limit.reset_seconds !== undefined).map((limit) => limit.reset_seconds! * 1000);
    this.#rateLimitResetAt = resets.length > 0 ? now + Math.max(...resets) : 0;
  }

  #retryAfter(response: Pick<FinishedResponse, 'status' | 'status_details'>, request: ResponseRequest | undefined): void {
    const incomplete = response.status === 'incomplete';
    const error = response.status_details?.error;
    const code = incomplete ? `incomplete_${response.status_details?.reason ?? 'unknown'}` : (error?.code ?? error?.type ?? 'unknown');
    this.#failures += 1;
    const now = performance.now();
    const resetInMs = code === 'rate_limit_exceeded' ? Math.max(0, this.#rateLimitResetAt - now) : 0;
    if (this.#failures > maxResponseRetries || resetInMs > maxRateLimitWaitMs) {
      this.#host.failed(code, undefined);
      this.#closed = true;
      this.#waiting = [];
      const why = incomplete ? `responses were cut off (${response.status_details?.reason ?? 'unknown'})` : `responses failed (${code}${error?.message ? `: ${error.message}` : ''})`;
      return this.#host.lost(`OpenAI ${why}`);
    }
    const delay = Math.max(retryBackoffMs[this.#failures - 1] ?? 1000, resetInMs);
    this.#host.failed(code, delay);
    const directive = incomplete ? this.#host.continueDirective() : (request?.directive ?? this.#host.answerDirective());
    const retry: ResponseRequest = { ...request, reason: request?.reason ?? 'retry', directive };
    const timer = setTimeout(() => {
      if (this.#retry?.timer !== timer) return;
      this.#retry = undefined;
      this.#waiting.unshift(retry);
      this.#pump();
    }, delay);
    this.#retry = { timer, request: retry, ofVad: request === undefined };
  }

  #pump(): void {
    if (this.#paused || this.#closed || this.#sent || this.#active || this.#retry) return;
    const request = this.#waiting.shift();
    if (!request) return;
    const eventId = `cw_resp_${++this.#seq}`;
    this.#sent = { eventId, request };
    const response: NonNullable<ResponseCreateEvent['response']> = { metadata: { [requestKey]: eventId } };
    if (request.directive) response.instructions = this.#host.instructions(request.directive);
    this.#host.send({ type: 'response.create', event_id: eventId, response });
  }
}
