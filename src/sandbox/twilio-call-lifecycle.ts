import { setTimeout as pause } from 'node:timers/promises';
import { rfc2822, type CallState } from './twilio-api.resources.ts';
import type { TwilioCallback } from './twilio-outbound.ts';

/**
 * How a live call ends at Twilio, as the application sees it: a REST update that hangs up
 * or redirects the call ends its media stream (Twilio's `stop`, then the socket closes);
 * the caller hanging up does the same; and the call's final `completed` status callback
 * goes to its StatusCallback. Outbound calls report their own final status
 * (`twilio-outbound.ts`); every ended call, inbound or outbound, reaches `onCallEnded`.
 */

/** The Twilio side of a call's media stream: a `SimulatedCaller` fits. */
export interface MediaStreamPeer {
  /** Sends Twilio's `stop` message. */
  stop(): void;
  /** Closes the websocket; resolves once it has closed. */
  close(): Promise<unknown>;
  /** Resolves once the websocket has closed, whoever closed it. */
  readonly closed: Promise<unknown>;
}

/**
 * When the stream of an updated call stops: `ms` after the REST answer went out, or
 * `'before-response'` — the stop and the close first, the REST answer only then (the race
 * an application must survive: its own REST call still awaiting while the stream ends).
 */
export type StreamStopTiming = number | 'before-response';

/**
 * Default delay from the REST answer to the stream's `stop`: Twilio applies an update
 * asynchronously — its media server tears the stream down once the new TwiML runs — so the
 * stop lands around the time the REST answer reaches the application, a little after it
 * (about one more hop across Twilio's network: 100–200 ms).
 */
export const DEFAULT_STREAM_STOP_MS = 150;

export interface CallLifecycleOptions {
  streamStop?: StreamStopTiming;
  /** How long after a call ended its final status callback goes out. Default 0. */
  statusCallbackDelayMs?: number;
  /** An outbound call ended through the API: its run stops and reports its final status (`OutboundCalls.hungUp`). */
  endOutbound: (call: CallState) => void;
  /** Sends a signed request to the application and records it (`OutboundCalls.deliver`). */
  deliver: (callSid: string, kind: TwilioCallback['kind'], url: string, method: 'GET' | 'POST', params: Record<string, string>) => Promise<TwilioCallback>;
}

/** TwiML that ends the call once it has run: a `<Hangup/>`, or nothing to do at all (`<Response/>`). */
export function twimlEndsCall(twiml: string): boolean {
  return /<Hangup\s*\/?>/.test(twiml) || !/<Response>\s*<(?!\/)/.test(twiml);
}

/** How fast `<Say>` speaks (ms per character): text-to-speech reads about 15 characters a second. */
const SAY_MS_PER_CHARACTER = 65;

/** How long the TwiML's `<Say>`s take to speak. */
export function sayDurationMs(twiml: string): number {
  return [...twiml.matchAll(/<Say\b[^>]*>([^<]*)<\/Say>/g)].reduce((total, match) => total + (match[1]?.length ?? 0), 0) * SAY_MS_PER_CHARACTER;
}

/** The live calls' streams and the end of every call, for one Twilio REST stand-in. */
export class CallLifecycle {
  #streams = new Map<string, MediaStreamPeer>();
  #listeners = new Set<(call: CallState) => void>();
  #streamStop: StreamStopTiming;
  #statusCallbackDelayMs: number;
  #deliver: CallLifecycleOptions['deliver'];
  #endOutbound: CallLifecycleOptions['endOutbound'];
  #inflight = new Set<Promise<unknown>>();
  #closing = new AbortController();

  constructor(options: CallLifecycleOptions) {
    this.#streamStop = options.streamStop ?? DEFAULT_STREAM_STOP_MS;
    this.#statusCallbackDelayMs = options.statusCallbackDelayMs ?? 0;
    this.#deliver = options.deliver;
    this.#endOutbound = options.endOutbound;
  }

  get streamStop(): StreamStopTiming {
    return this.#streamStop;
  }

  set streamStop(timing: StreamStopTiming) {
    this.#streamStop = timing;
  }

  set statusCallbackDelayMs(ms: number) {
    this.#statusCallbackDelayMs = ms;
  }

  /** The call's media stream is `stream` (until it closes). */
  attachStream(callSid: string, stream: MediaStreamPeer): void {
    this.#streams.set(callSid, stream);
    void stream.closed.then(() => {
      if (this.#streams.get(callSid) === stream) this.#streams.delete(callSid);
    });
  }

  onCallEnded(listener: (call: CallState) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * A REST update took effect on a live call: its stream ends (stop, then close) and, when
   * the new TwiML hangs up (or `completed` already did), the call ends with it. Resolves
   * when the REST answer may go out.
   */
  async updated(call: CallState, twiml: string | undefined): Promise<void> {
    const end = async () => {
      await this.#endStream(call.sid);
      // A redirect runs its TwiML once the stream is gone — its `<Say>` spoken, then the
      // hang-up; `<Dial>` keeps the caller on the line.
      if (twiml === undefined || !twimlEndsCall(twiml)) return;
      const hangUp = () => {
        if (call.status === 'in-progress') this.ended(call, 'completed');
      };
      this.#track(pause(sayDurationMs(twiml), undefined, { signal: this.#closing.signal }).then(hangUp, () => undefined));
    };
    const timing = this.#streamStop;
    if (timing === 'before-response') return end();
    this.#track(pause(timing, undefined, { signal: this.#closing.signal }).then(end));
  }

  /** The caller hangs up: the stream stops and closes, the call is completed. */
  async hangUp(call: CallState): Promise<void> {
    if (call.status !== 'in-progress') throw new Error(`call ${call.sid} is ${call.status}, not in progress`);
    this.ended(call, 'completed');
    await this.#endStream(call.sid);
  }

  /**
   * The call reached a final status now: listeners hear of it, and an inbound call with a
   * StatusCallback gets its final status callback. (Outbound calls report their own, and
   * tell the listeners through `notifyEnded`.)
   */
  ended(call: CallState, status: CallState['status']): void {
    const now = new Date();
    Object.assign(call, { status, endedAt: now, updatedAt: now });
    if (call.direction !== 'inbound') return this.#endOutbound(call);
    this.notifyEnded(call);
    if (call.statusCallback) this.#track(this.#reportFinal(call, call.statusCallback));
  }

  /** Tells the `onCallEnded` listeners. */
  notifyEnded(call: CallState): void {
    for (const listener of this.#listeners) listener(call);
  }

  async close(): Promise<void> {
    this.#closing.abort();
    await Promise.allSettled([...this.#inflight]);
  }

  async #endStream(callSid: string): Promise<void> {
    const stream = this.#streams.get(callSid);
    if (!stream) return;
    this.#streams.delete(callSid);
    stream.stop();
    // Twilio closes the socket right after its `stop`, in a later write.
    await new Promise((resolve) => setImmediate(resolve));
    await stream.close();
  }

  /** Twilio's final status callback of an inbound call (the parameters of a voice request, plus the duration). */
  async #reportFinal(call: CallState, url: string): Promise<void> {
    if (this.#statusCallbackDelayMs > 0) await pause(this.#statusCallbackDelayMs, undefined, { signal: this.#closing.signal });
    const durationSec = call.endedAt ? Math.round((call.endedAt.getTime() - call.createdAt.getTime()) / 1000) : 0;
    await this.#deliver(call.sid, 'status', url, 'POST', {
      AccountSid: call.accountSid,
      ApiVersion: '2010-04-01',
      CallSid: call.sid,
      Direction: 'inbound',
      From: call.from,
      Caller: call.from,
      To: call.to,
      Called: call.to,
      CallStatus: call.status,
      CallDuration: String(durationSec),
      Duration: String(Math.ceil(durationSec / 60)),
      CallbackSource: 'call-progress-events',
      Timestamp: rfc2822(new Date()),
      SequenceNumber: '0',
    });
  }

  #track(promise: Promise<unknown>): void {
    const tracked = promise
      .catch((error: unknown) => {
        if (!this.#closing.signal.aborted) throw error;
      })
      .finally(() => this.#inflight.delete(tracked));
    this.#inflight.add(tracked);
  }
}
