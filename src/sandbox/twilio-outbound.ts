import { setTimeout as pause } from 'node:timers/promises';
import twilio from 'twilio';
import { EventLog } from './event-log.ts';
import { rfc2822, type CallState, type RecordingState } from './twilio-api.resources.ts';
import { recordingCallbackParams } from './twilio-webhook.ts';
import { twimlEndsCall } from './twilio-call-lifecycle.ts';

/**
 * What Twilio does after `POST …/Calls.json` creates an outbound call: dial, ring, answer
 * (by a person or a voicemail) or not, and tell the application each step — status
 * callbacks, the voice URL fetch, async AMD and recording callbacks — as signed HTTP
 * requests with Twilio's parameter names. The outcome of each call is chosen by the test.
 *
 * Over 300 lines on purpose: one class follows a call from its creation to its last
 * callback, and the steps share the call's run state (sequence numbers, AMD verdict,
 * abort); split, they would pass that state back and forth.
 */

/** How the called party responds: picks up, rings out, is busy, cannot be reached, or a voicemail picks up. */
export type OutboundOutcome = 'answer' | 'no-answer' | 'busy' | 'failed' | 'machine';

/** A call created through the API, with what the stand-in did with it. */
export interface PlacedCall {
  sid: string;
  to: string;
  from: string;
  /** The create request's form parameters, Twilio's names; repeated ones are arrays. */
  params: Record<string, string | string[]>;
  outcome: OutboundOutcome;
  /** The TwiML the call ran: the voice URL's answer, or the `Twiml` parameter; null until answered. */
  voiceTwiml: string | null;
  /** TwiML the application replaced it with through the API (`Twiml`), in order. */
  twimlUpdates: string[];
}

/** One request the stand-in made to the application. */
export interface TwilioCallback {
  callSid: string;
  kind: 'status' | 'voice' | 'amd' | 'recording';
  /** The URL as given to Twilio (and signed), before any `routeOrigin` rewrite. */
  url: string;
  method: 'GET' | 'POST';
  params: Record<string, string>;
  /** HTTP status of the answer; null when the request failed (`error` says why). */
  status: number | null;
  body: string;
  error?: string;
}

export interface OutboundCallsOptions {
  accountSid: string;
  authToken: string;
  /** The stand-in's base URL, for recording URLs (known only once it listens). */
  apiUrl: () => string;
  /** Registers the recording of a call created with `Record=true`, once it ends. */
  addRecording: (callSid: string, durationSec: number) => RecordingState;
  /** The call reached a final status (the stand-in's "call ended" hook). */
  onEnded?: (call: CallState) => void;
  ringMs?: number;
  /** AMD's time from answer to its verdict (`amdFor`); default {@link DEFAULT_AMD}. */
  amd?: Partial<AmdTiming>;
  /** Sees the TwiML each answered call runs (the `<Say>` check, twiml-say.ts). */
  onTwiml?: (callSid: string, twiml: string) => void;
}

/**
 * How long answering-machine detection takes. Twilio listens to the first words: a person's
 * short "Hello?" then silence (SpeechEndThreshold 1200 ms) or a machine's long greeting
 * (speech past SpeechThreshold 2400 ms) decides — a few seconds either way. With
 * `DetectMessageEnd`, a machine's verdict waits for its greeting to end as well.
 */
export interface AmdTiming {
  /** Answer to verdict for a person, or a machine under `Enable` (`machine_start`). */
  detectionMs: number;
  /** A machine's greeting after detection, until its end is heard (`DetectMessageEnd` only). */
  greetingMs: number;
  /** How a machine's greeting ends: `machine_end_beep`, `_silence` or `_other`. */
  messageEnd: 'beep' | 'silence' | 'other';
}

/** Realistic AMD timing: about 3 s to tell, and a 10 s voicemail greeting. */
export const DEFAULT_AMD: AmdTiming = { detectionMs: 3_000, greetingMs: 10_000, messageEnd: 'beep' };

interface CallRun {
  call: CallState;
  placed: PlacedCall;
  events: Set<string>;
  amd: 'Enable' | 'DetectMessageEnd' | null;
  asyncAmd: boolean;
  answeredBy: string | null;
  /** MachineDetectionDuration: the milliseconds from answer to the verdict, as they really passed. */
  detectionMs: number | null;
  sequence: number;
  ended: boolean;
  /** Aborts the ringing and the voice fetch when the call ends early (hang-up, close). */
  abort: AbortController;
}

/** Statuses that end a call (the `completed` event); Twilio sends them to StatusCallback whether asked or not. */
const FINAL_STATUSES = new Set(['completed', 'busy', 'no-answer', 'failed', 'canceled']);

/** SIP answer codes Twilio reports in SipResponseCode for each final status. */
const SIP_CODES: Record<string, string> = { completed: '200', busy: '486', 'no-answer': '487', canceled: '487', failed: '404' };

/**
 * Twilio's webhook time-out (15 s): a receiver that hangs does not hold the stand-in forever.
 */
const WEBHOOK_TIMEOUT_MS = 15_000;

/** Twilio's default MachineDetectionTimeout (s): no verdict by then is `unknown`. */
const AMD_TIMEOUT_SEC = 30;

/** Drives the outbound calls of one Twilio REST stand-in; `close()` stops every call and request. */
export class OutboundCalls {
  readonly placed: PlacedCall[] = [];
  readonly callbacks = new EventLog<TwilioCallback>('Twilio callback');
  #options: OutboundCallsOptions;
  #ringMs: number;
  /** Progress callbacks go out this much later, in the background (null: in order, awaited). */
  #progressDelayMs: number | null = null;
  #amd: AmdTiming;
  #byNumber = new Map<string, OutboundOutcome>();
  #next: OutboundOutcome[] = [];
  #origins = new Map<string, string>();
  #runs = new Map<string, CallRun>();
  #inflight = new Set<Promise<unknown>>();
  #closing = new AbortController();
  /** Each answered call's TwiML (null: none ran), once known — from the voice URL or inline. */
  #twiml = new EventLog<{ callSid: string; twiml: string | null }>('outbound call TwiML');

  constructor(options: OutboundCallsOptions) {
    this.#options = options;
    this.#ringMs = options.ringMs ?? 20;
    this.#amd = { ...DEFAULT_AMD, ...options.amd };
  }

  /** Steering, as documented on `TwilioApiStandIn`. */
  outcomeFor(number: string, outcome: OutboundOutcome): void {
    this.#byNumber.set(number, outcome);
  }

  nextOutcome(outcome: OutboundOutcome): void {
    this.#next.push(outcome);
  }

  ringFor(ms: number): void {
    this.#ringMs = ms;
  }

  delayProgressCallbacks(ms: number | null): void {
    this.#progressDelayMs = ms;
  }

  amdFor(detectionMs: number, more: Partial<Omit<AmdTiming, 'detectionMs'>> = {}): void {
    this.#amd = { ...this.#amd, ...more, detectionMs };
  }

  routeOrigin(publicOrigin: string, realOrigin: string): void {
    this.#origins.set(new URL(publicOrigin).origin, new URL(realOrigin).origin);
  }

  /** Starts dialing a call just created (status `queued`); the API has already answered 201. */
  place(call: CallState, params: Record<string, string | string[]>): PlacedCall {
    const outcome = this.#next.shift() ?? this.#byNumber.get(call.to) ?? 'answer';
    const placed: PlacedCall = { sid: call.sid, to: call.to, from: call.from, params, outcome, voiceTwiml: null, twimlUpdates: [] };
    this.placed.push(placed);
    const detection = first(params.MachineDetection);
    const run: CallRun = {
      call,
      placed,
      events: new Set(list(params.StatusCallbackEvent)),
      amd: detection === 'Enable' || detection === 'DetectMessageEnd' ? detection : null,
      asyncAmd: first(params.AsyncAmd) === 'true',
      answeredBy: null,
      detectionMs: null,
      sequence: 0,
      ended: false,
      abort: new AbortController(),
    };
    this.#runs.set(call.sid, run);
    this.#track(this.#dial(run).catch((error: unknown) => {
      if (!run.abort.signal.aborted) throw error;
    }));
    return placed;
  }

  /** The call was ended through the API (`Status=completed|canceled`): stop it and report its final status. */
  hungUp(call: CallState): void {
    const run = this.#runs.get(call.sid);
    if (run && !run.ended && FINAL_STATUSES.has(call.status)) this.#end(run, call.status);
  }

  /**
   * The call's TwiML was replaced through the API (`Twiml`): recorded in `twimlUpdates`.
   * (The call lifecycle runs it: a hang-up ends the call once its `<Say>`s are spoken.)
   * AMD goes on: its verdict still comes.
   */
  redirected(call: CallState, twiml: string): void {
    const run = this.#runs.get(call.sid);
    if (!run || run.ended || !run.call.answeredAt) return;
    run.placed.twimlUpdates.push(twiml);
  }

  /** The TwiML the call runs once answered. */
  async waitForVoiceTwiml(callSid: string, timeoutMs?: number): Promise<string> {
    const { twiml } = await this.#twiml.waitFor((entry) => entry.callSid === callSid, timeoutMs);
    if (twiml === null) throw new Error(`call ${callSid} got no TwiML from its voice URL`);
    return twiml;
  }

  async close(): Promise<void> {
    for (const run of this.#runs.values()) run.abort.abort();
    this.#closing.abort();
    await Promise.allSettled([...this.#inflight]);
    this.callbacks.close('stand-in closed');
    this.#twiml.close('stand-in closed');
  }

  /** queued → initiated → ringing → answered, or a final status on the way. */
  async #dial(run: CallRun): Promise<void> {
    const { signal } = run.abort;
    const outcome = run.placed.outcome;
    await pause(0, undefined, { signal }); // the API answers the create before dialing starts
    await this.#progress(run, 'initiated', 'initiated');
    if (outcome === 'busy' || outcome === 'failed') return this.#end(run, outcome);
    run.call.status = 'ringing';
    await this.#progress(run, 'ringing', 'ringing');
    await pause(this.#ringMs, undefined, { signal });
    if (outcome === 'no-answer') return this.#end(run, 'no-answer');
    this.#answer(run);
    // Async AMD listens in the background from the answer on; the TwiML runs at once.
    if (run.amd && run.asyncAmd) {
      this.#track(this.#reportAsyncAmd(run).catch((error: unknown) => {
        if (!run.abort.signal.aborted) throw error; // ended before the verdict: none is sent
      }));
    }
    await this.#progress(run, 'answered', 'in-progress');
    // Synchronous AMD holds the call, in silence, until its verdict: only then is the voice URL asked.
    if (run.amd && !run.asyncAmd) await this.#detect(run);
    const twiml = await this.#runTwiml(run);
    if (twiml === null || twimlEndsCall(twiml)) return this.#end(run, 'completed');
  }

  #answer(run: CallRun): void {
    run.call.status = 'in-progress';
    run.call.answeredAt = new Date();
    run.call.updatedAt = run.call.answeredAt;
  }

  /** Waits, from the answer, for AMD to tell a person from a machine (or to time out), and records its verdict. */
  async #detect(run: CallRun): Promise<void> {
    const { detectionMs, greetingMs } = this.#amd;
    const machine = run.placed.outcome === 'machine';
    const needed = detectionMs + (machine && run.amd === 'DetectMessageEnd' ? greetingMs : 0);
    const timeoutMs = (Number(first(run.placed.params.MachineDetectionTimeout)) || AMD_TIMEOUT_SEC) * 1000;
    const elapsed = Date.now() - (run.call.answeredAt?.getTime() ?? Date.now());
    await pause(Math.max(0, Math.min(needed, timeoutMs) - elapsed), undefined, { signal: run.abort.signal });
    run.answeredBy = needed > timeoutMs ? 'unknown' : this.#verdict(run);
    // Node's timers may fire a millisecond before Date.now() says the time is up; detection
    // never ends before it needed to.
    run.detectionMs = Math.max(Date.now() - (run.call.answeredAt?.getTime() ?? Date.now()), Math.min(needed, timeoutMs));
    run.call.answeredBy = run.answeredBy;
  }

  /** What AMD reports: a person, or a machine at its greeting's start or after its end. */
  #verdict(run: CallRun): string {
    if (run.placed.outcome !== 'machine') return 'human';
    return run.amd === 'DetectMessageEnd' ? `machine_end_${this.#amd.messageEnd}` : 'machine_start';
  }

  /** Fetches the voice URL (or takes the inline `Twiml`; Url wins over it) and records what the call runs. */
  async #runTwiml(run: CallRun): Promise<string | null> {
    const twiml = await this.#fetchTwiml(run);
    run.placed.voiceTwiml = twiml;
    if (twiml !== null) this.#options.onTwiml?.(run.call.sid, twiml);
    this.#twiml.push({ callSid: run.call.sid, twiml });
    return twiml;
  }

  async #fetchTwiml(run: CallRun): Promise<string | null> {
    const params = run.placed.params;
    const url = first(params.Url);
    if (!url) return first(params.Twiml) ?? null;
    const voiceParams = { ...this.#callParams(run), CallStatus: 'in-progress' };
    if (run.answeredBy) Object.assign(voiceParams, { AnsweredBy: run.answeredBy, MachineDetectionDuration: String(run.detectionMs) });
    const method = first(params.Method) === 'GET' ? 'GET' : 'POST';
    const answer = await this.#send(run, 'voice', url, method, voiceParams, run.abort.signal);
    // An error answer is Twilio's "application error" message and a hang-up: no TwiML ran.
    return answer.status !== null && answer.status < 300 ? answer.body : null;
  }

  /**
   * Async AMD: the call runs its TwiML meanwhile; the verdict arrives on its own callback. A
   * call that ended first gets none. Once sent, the request runs to its answer even if the
   * application ends the call while handling it, as Twilio's would.
   */
  async #reportAsyncAmd(run: CallRun): Promise<void> {
    await this.#detect(run);
    const url = first(run.placed.params.AsyncAmdStatusCallback);
    if (!url || !run.answeredBy) return;
    const method = first(run.placed.params.AsyncAmdStatusCallbackMethod) === 'GET' ? 'GET' : 'POST';
    const params = { AccountSid: run.call.accountSid, CallSid: run.call.sid, AnsweredBy: run.answeredBy, MachineDetectionDuration: String(run.detectionMs) };
    await this.#send(run, 'amd', url, method, params);
  }

  /** A progress status callback, sent only when its event was asked for. */
  async #progress(run: CallRun, event: 'initiated' | 'ringing' | 'answered', callStatus: string): Promise<void> {
    if (run.events.has(event) && this.#progressDelayMs !== null) {
      // Each callback is a request of its own: Twilio does not wait for one before the next,
      // so a slow one arrives after later ones (its SequenceNumber still tells the order).
      const params = this.#statusParams(run, { CallStatus: callStatus });
      const delayMs = this.#progressDelayMs;
      this.#track(pause(delayMs, undefined, { signal: this.#closing.signal }).then(() => this.#sendStatus(run, params), () => undefined));
    } else if (run.events.has(event)) await this.#statusCallback(run, { CallStatus: callStatus });
    // A hang-up while the callback was out ended the call: the run must not move it on.
    run.abort.signal.throwIfAborted();
  }

  /** Ends the call once, stops its run and reports the final status (and the recording). */
  #end(run: CallRun, status: CallState['status']): void {
    if (run.ended) return;
    run.ended = true;
    run.abort.abort();
    const now = new Date();
    Object.assign(run.call, { status, endedAt: now, updatedAt: now });
    this.#options.onEnded?.(run.call);
    const answeredAt = run.call.answeredAt;
    const durationSec = answeredAt ? Math.round((now.getTime() - answeredAt.getTime()) / 1000) : 0;
    this.#track(this.#reportEnd(run, status, durationSec));
  }

  async #reportEnd(run: CallRun, status: string, durationSec: number): Promise<void> {
    const recorded = first(run.placed.params.Record) === 'true' && run.call.answeredAt;
    const recording = recorded ? this.#options.addRecording(run.call.sid, durationSec) : null;
    const final: Record<string, string> = {
      CallStatus: status,
      CallDuration: String(durationSec),
      Duration: String(Math.ceil(durationSec / 60)),
      SipResponseCode: SIP_CODES[status] ?? '500',
    };
    if (recording) {
      Object.assign(final, {
        RecordingUrl: `${this.#recordingsBase()}/${recording.sid}`,
        RecordingSid: recording.sid,
        RecordingDuration: String(durationSec),
      });
    }
    await this.#statusCallback(run, final);
    const recordingUrl = first(run.placed.params.RecordingStatusCallback);
    if (!recording || !recordingUrl) return;
    const params = recordingCallbackParams({
      accountSid: run.call.accountSid,
      callSid: run.call.sid,
      recordingSid: recording.sid,
      status: 'completed',
      durationSec,
      channels: recording.channels,
      apiUrl: this.#options.apiUrl(),
    });
    await this.#send(run, 'recording', recordingUrl, 'POST', { ...params, RecordingSource: 'OutboundAPI' });
  }

  async #statusCallback(run: CallRun, fields: Record<string, string>): Promise<void> {
    await this.#sendStatus(run, this.#statusParams(run, fields));
  }

  /** A status callback's parameters, numbered (SequenceNumber) when the status happens. */
  #statusParams(run: CallRun, fields: Record<string, string>): Record<string, string> {
    const params: Record<string, string> = {
      ...this.#callParams(run),
      ...fields,
      CallbackSource: 'call-progress-events',
      Timestamp: rfc2822(new Date()),
      SequenceNumber: String(run.sequence++),
    };
    if (run.answeredBy && fields.CallStatus !== 'initiated' && fields.CallStatus !== 'ringing') params.AnsweredBy = run.answeredBy;
    return params;
  }

  async #sendStatus(run: CallRun, params: Record<string, string>): Promise<void> {
    const url = first(run.placed.params.StatusCallback);
    if (!url) return;
    const method = first(run.placed.params.StatusCallbackMethod) === 'GET' ? 'GET' : 'POST';
    await this.#send(run, 'status', url, method, params);
  }

  /** The parameters of every Twilio voice request about this call. */
  #callParams(run: CallRun): Record<string, string> {
    const { call } = run;
    return {
      AccountSid: call.accountSid,
      ApiVersion: '2010-04-01',
      CallSid: call.sid,
      Direction: 'outbound-api',
      From: call.from,
      Caller: call.from,
      To: call.to,
      Called: call.to,
      CallStatus: call.status,
    };
  }

  /** A request about the run's call. */
  #send(run: CallRun, kind: TwilioCallback['kind'], url: string, method: 'GET' | 'POST', params: Record<string, string>, signal?: AbortSignal): Promise<TwilioCallback> {
    return this.deliver(run.call.sid, kind, url, method, params, signal);
  }

  /**
   * One signed request, as Twilio makes it: X-Twilio-Signature over the URL as configured
   * (for GET, with the parameters in its query) and the POST parameters. A failed delivery
   * is recorded, never thrown, and never retried — Twilio logs it and the call goes on.
   * Also sends the callbacks of calls this class did not place (inbound calls' status and
   * recording callbacks).
   */
  async deliver(
    callSid: string,
    kind: TwilioCallback['kind'],
    url: string,
    method: 'GET' | 'POST',
    params: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<TwilioCallback> {
    signal?.throwIfAborted();
    const query = new URLSearchParams(params).toString();
    const signedUrl = method === 'GET' ? `${url}${url.includes('?') ? '&' : '?'}${query}` : url;
    const signature = twilio.getExpectedTwilioSignature(this.#options.authToken, signedUrl, method === 'POST' ? params : {});
    const signals = [this.#closing.signal, AbortSignal.timeout(WEBHOOK_TIMEOUT_MS), ...(signal ? [signal] : [])];
    const callback: TwilioCallback = { callSid, kind, url, method, params, status: null, body: '' };
    try {
      const response = await fetch(this.#rewrite(signedUrl), {
        method,
        headers: { 'x-twilio-signature': signature, ...(method === 'POST' ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
        body: method === 'POST' ? query : undefined,
        signal: AbortSignal.any(signals),
      });
      callback.status = response.status;
      callback.body = await response.text();
    } catch (error) {
      if (signal?.aborted) throw error; // the call ended meanwhile: this request no longer happened
      callback.error = error instanceof Error ? error.message : String(error);
    }
    this.callbacks.push(callback);
    return callback;
  }

  #rewrite(url: string): string {
    const parsed = new URL(url);
    const real = this.#origins.get(parsed.origin);
    return real ? `${real}${parsed.pathname}${parsed.search}` : url;
  }

  #recordingsBase(): string {
    return `${this.#options.apiUrl()}/2010-04-01/Accounts/${this.#options.accountSid}/Recordings`;
  }

  #track(promise: Promise<unknown>): void {
    const tracked = promise.finally(() => this.#inflight.delete(tracked));
    this.#inflight.add(tracked);
  }
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** A repeated parameter's values; one value may also list several, space-separated. */
function list(value: string | string[] | undefined): string[] {
  return (Array.isArray(value) ? value : value === undefined ? [] : [value]).flatMap((item) => item.split(/\s+/)).filter(Boolean);
}
