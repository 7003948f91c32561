import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { EventLog } from './event-log.ts';
import { twilioSid } from './ids.ts';
import { callResource, recordingResource, twilioError, type CallState, type RecordingState } from './twilio-api.resources.ts';
import { CallRecordings, recordingsPage } from './twilio-recordings.ts';
import { closeServer, listenOnLoopback, readBody } from './http.ts';
import { OutboundCalls, type AmdTiming, type OutboundOutcome, type PlacedCall, type TwilioCallback } from './twilio-outbound.ts';
import { CallLifecycle, type MediaStreamPeer, type StreamStopTiming } from './twilio-call-lifecycle.ts';
import { sayAlerts, type TwilioAlert } from './twiml-say.ts';

export type { CallState, RecordingState } from './twilio-api.resources.ts';
export type { AmdTiming, OutboundOutcome, PlacedCall, TwilioCallback } from './twilio-outbound.ts';
export type { MediaStreamPeer, StreamStopTiming } from './twilio-call-lifecycle.ts';
export type { TwilioAlert } from './twiml-say.ts';

/** One request the stand-in received: form parameters keep Twilio's names; repeated ones become arrays. */
export interface TwilioApiRequest {
  method: string;
  path: string;
  params: Record<string, string | string[]>;
  /** The AccountSid of the Basic auth header, or null without one. */
  authAccountSid: string | null;
  status: number;
  /** When it arrived. */
  at: Date;
}

export interface TwilioApiStandInOptions {
  /** Default: a random `AC…` SID. */
  accountSid?: string;
  /** Default: 32 random hex digits. */
  authToken?: string;
  port?: number;
  /** How long an outbound call rings before it is answered or rings out (`ringFor`). Default 20 ms. */
  ringMs?: number;
  /**
   * When the media stream of a call updated through the API (hang-up or redirect) gets its
   * `stop` and closes: ms after the REST answer (default 150, `DEFAULT_STREAM_STOP_MS`), or
   * `'before-response'`. See `stopStreams`.
   */
  streamStop?: StreamStopTiming;
  /** How long after a call ends its final status callback goes out (`delayStatusCallbacks`). Default 0. */
  statusCallbackDelayMs?: number;
  /**
   * From a call's end to its recording's `completed` (or `absent`) and the status callback
   * (`processRecordingsIn`). Default 3 s, as Twilio takes seconds to process a recording.
   */
  recordingProcessingMs?: number;
  /** How long answering-machine detection takes (`amdFor`). Default `DEFAULT_AMD`: 3 s, a 10 s greeting. */
  amd?: Partial<AmdTiming>;
}

export interface TwilioApiStandIn {
  /** Base URL to put in place of `https://api.twilio.com`. */
  readonly url: string;
  readonly accountSid: string;
  readonly authToken: string;
  /** Every request, in order, with the status it got. */
  readonly requests: readonly TwilioApiRequest[];
  /** Calls by SID: registered with `addCall` (an inbound call Twilio received) or created through the API. Others are 404. */
  readonly calls: ReadonlyMap<string, CallState>;
  /** Recordings started or added, in order, less those deleted. */
  readonly recordings: readonly RecordingState[];
  /** SIDs of the recordings deleted through `DELETE …/Recordings/{sid}.json`, in order. */
  readonly deletedRecordings: readonly string[];
  /**
   * Registers a call Twilio has (e.g. an inbound call whose voice webhook went out); returns
   * its state. With `statusCallback` its final status is posted there, signed, when it ends.
   */
  addCall(call: Partial<CallState> & { sid: string }): CallState;
  /** The call's media stream (a `SimulatedCaller`): updating or hanging up the call stops and closes it. */
  attachStream(callSid: string, stream: MediaStreamPeer): void;
  /** When the stream of an updated call stops: ms after the REST answer, or `'before-response'`. */
  stopStreams(timing: StreamStopTiming): void;
  /** The caller hangs up: the stream gets `stop` and closes, the call is `completed`. Resolves once the stream closed. */
  hangUp(callSid: string): Promise<void>;
  /** Calls `listener` whenever a call reaches a final status (inbound or outbound); returns the unsubscribe. */
  onCallEnded(listener: (call: CallState) => void): () => void;
  /** Final status callbacks go out `ms` after the call ended (late: after the application wrote it). */
  delayStatusCallbacks(ms: number): void;
  /**
   * Registers a recording (default: completed, mono, 1 s of silence as 16-bit PCM 8 kHz WAV),
   * whose media is then served at `/2010-04-01/Accounts/{AccountSid}/Recordings/{sid}.wav`.
   */
  addRecording(recording: { callSid: string; sid?: string; status?: RecordingState['status']; audio?: Buffer; durationSec?: number; channels?: 1 | 2 }): RecordingState;
  /** The media the call's API-started recordings hold once completed (a WAV, `wav.ts`); default silence. */
  recordingAudio(callSid: string, wav: Buffer): void;
  /** From now on, recordings complete (and call back) `ms` after their call ends. */
  processRecordingsIn(ms: number): void;
  /** The next recording status callback due is never sent, as happens at Twilio (which does not retry). */
  loseNextRecordingCallback(): void;
  /** Recording SIDs whose status callback was lost. */
  readonly lostRecordingCallbacks: readonly string[];
  /** A snapshot of the first recording state matching (started, processing, completed, absent), seen or still to come. */
  waitForRecording(predicate: (recording: RecordingState) => boolean, timeoutMs?: number): Promise<RecordingState>;
  /** How many times the recording's media was downloaded successfully (status 200). */
  downloads(recordingSid: string): number;
  /** The next request fails with `status` and Twilio's error body (code 20000 + status unless given). */
  failNext(status: number, error?: { code?: number; message?: string }): void;
  /** The first request matching, already received or still to come. */
  waitForRequest(predicate: (request: TwilioApiRequest) => boolean, timeoutMs?: number): Promise<TwilioApiRequest>;
  /** Every outbound call created through `POST …/Calls.json`, in order, with its outcome and TwiML. */
  readonly placedCalls: readonly PlacedCall[];
  /** Every request the stand-in made to the application (status, voice, AMD, recording), in order. */
  readonly callbacks: readonly TwilioCallback[];
  /** Calls to `number` (E.164) end this way from now on; the default is `answer`. */
  outcomeFor(number: string, outcome: OutboundOutcome): void;
  /** The next call created ends this way, whatever its number (queued: one per call). */
  nextOutcome(outcome: OutboundOutcome): void;
  /** How long outbound calls ring before they are answered or ring out. */
  ringFor(ms: number): void;
  /**
   * Outbound calls' progress callbacks (`initiated`, `ringing`, `answered`) go out `ms`
   * later, in the background, so later ones — the final status — overtake them, as separate
   * requests at Twilio can; null: in order (the default).
   */
  delayProgressCallbacks(ms: number | null): void;
  /**
   * How long AMD takes from the answer to its verdict (a person, or a machine under `Enable`);
   * under `DetectMessageEnd` a machine's greeting then lasts `greetingMs` more and ends with
   * `messageEnd` (beep by default). Synchronous AMD fetches the voice URL only then.
   */
  amdFor(detectionMs: number, more?: Partial<Omit<AmdTiming, 'detectionMs'>>): void;
  /**
   * Sends requests for URLs on `publicOrigin` (e.g. Callwatch's PUBLIC_URL) to `realOrigin`
   * (where it listens) instead. The signature still covers the URL as given, as Twilio signs it.
   */
  routeOrigin(publicOrigin: string, realOrigin: string): void;
  /** The TwiML an outbound call runs once answered (its voice URL's answer). */
  waitForVoiceTwiml(callSid: string, timeoutMs?: number): Promise<string>;
  /**
   * Twilio's Monitor alerts for the TwiML calls ran (a call update's `Twiml`, an outbound
   * call's voice TwiML): a `<Say>` whose voice cannot speak its language is 13511, an empty
   * one 13520 (twiml-say.ts). Empty when every `<Say>` played.
   */
  readonly alerts: readonly TwilioAlert[];
  /** The first request to the application matching, already made or still to come. */
  waitForCallback(predicate: (callback: TwilioCallback) => boolean, timeoutMs?: number): Promise<TwilioCallback>;
  close(): Promise<void>;
}

const CALLS = /^\/2010-04-01\/Accounts\/(AC[0-9a-f]{32})\/Calls\.json$/;
const CALL = /^\/2010-04-01\/Accounts\/(AC[0-9a-f]{32})\/Calls\/(CA[0-9a-f]{32})\.json$/;
const RECORDINGS = /^\/2010-04-01\/Accounts\/(AC[0-9a-f]{32})\/Calls\/(CA[0-9a-f]{32})\/Recordings\.json$/;
const ACCOUNT_RECORDINGS = /^\/2010-04-01\/Accounts\/(AC[0-9a-f]{32})\/Recordings\.json$/;
const RECORDING = /^\/2010-04-01\/Accounts\/(AC[0-9a-f]{32})\/Recordings\/(RE[0-9a-f]{32})\.(json|wav|mp3)$/;

/**
 * A JSON answer, or a recording's media. `effect` is what the request set going: it runs
 * before the answer is written, and may hold the answer (e.g. the stream stops first).
 */
type RouteResult = ({ status: number; body: unknown } | { status: number; audio: Buffer } | { status: 204 }) & { effect?: () => Promise<void> };

/**
 * Starts a local stand-in for the parts of Twilio's REST API Callwatch uses — start a call
 * recording, fetch a recording and download its WAV, delete a recording, update (redirect or hang up) a call,
 * create and fetch calls — on 127.0.0.1, with Twilio's paths, form-encoded parameters,
 * Basic auth and JSON shapes. A created call is then dialed as Twilio would, with signed
 * callbacks to the application (see `twilio-outbound.ts`).
 */
export async function startTwilioApiStandIn(options: TwilioApiStandInOptions = {}): Promise<TwilioApiStandIn> {
  const accountSid = options.accountSid ?? twilioSid('AC');
  const authToken = options.authToken ?? randomBytes(16).toString('hex');
  const requests = new EventLog<TwilioApiRequest>('Twilio API request');
  const calls = new Map<string, CallState>();
  const downloads = new Map<string, number>();
  let nextFailure: { status: number; code: number; message: string } | undefined;
  let baseUrl = '';
  const alerts: TwilioAlert[] = [];
  const runTwiml = (callSid: string, twiml: string) => alerts.push(...sayAlerts(callSid, twiml));
  const outbound = new OutboundCalls({
    onTwiml: runTwiml,
    accountSid,
    authToken,
    apiUrl: () => baseUrl,
    addRecording: (callSid, durationSec) => recordings.add({ callSid, durationSec }),
    onEnded: (call) => lifecycle.notifyEnded(call),
    ringMs: options.ringMs,
    amd: options.amd,
  });
  const lifecycle = new CallLifecycle({
    streamStop: options.streamStop,
    statusCallbackDelayMs: options.statusCallbackDelayMs,
    endOutbound: (call) => outbound.hungUp(call),
    deliver: (...args) => outbound.deliver(...args),
  });
  const recordings = new CallRecordings({
    accountSid,
    apiUrl: () => baseUrl,
    deliver: (callSid, url, method, params) => outbound.deliver(callSid, 'recording', url, method, params),
    processingMs: options.recordingProcessingMs,
  });
  // However a call ends (the caller, a REST hang-up, TwiML, no answer), its recordings stop.
  lifecycle.onCallEnded((call) => recordings.callEnded(call.sid));

  function addCall(call: Partial<CallState> & { sid: string }): CallState {
    const now = new Date();
    const state: CallState = { accountSid, from: '+15005550006', to: '+15005550001', direction: 'inbound', status: 'in-progress', createdAt: now, updatedAt: now, endedAt: null, ...call };
    calls.set(state.sid, state);
    return state;
  }

  function notFound(path: string): RouteResult {
    return { status: 404, body: twilioError(404, 20404, `The requested resource ${path} was not found`) };
  }

  function route(method: string, path: string, params: Record<string, string | string[]>): RouteResult {
    const param = (name: string) => (Array.isArray(params[name]) ? params[name][0] : params[name]);
    let match = RECORDING.exec(path);
    if (match && method === 'DELETE') {
      // Twilio deletes a recording through its .json resource only: 204 with no body.
      if (match[3] !== 'json' || !recordings.remove(match[2] ?? '')) return notFound(path);
      return { status: 204 };
    }
    if (match && method === 'GET') {
      const sid = match[2];
      const recording = recordings.find(sid ?? '');
      if (!recording) return notFound(path);
      if (match[3] === 'json') return { status: 200, body: recordingResource(recording) };
      // Twilio has media only once the recording completed; the stand-in keeps WAV only.
      if (match[3] !== 'wav' || recording.status !== 'completed' || !recording.audio) return notFound(path);
      downloads.set(recording.sid, (downloads.get(recording.sid) ?? 0) + 1);
      return { status: 200, audio: recording.audio };
    }
    match = RECORDINGS.exec(path);
    if (match && method === 'GET') {
      const callSid = match[2] ?? '';
      return { status: 200, body: recordingsPage(recordings.ofCall(callSid), path, {}, { page: param('Page'), pageSize: param('PageSize') }) };
    }
    if (match && method === 'POST') {
      const call = calls.get(match[2] ?? '');
      if (!call) return notFound(path);
      if (call.status !== 'in-progress') return { status: 400, body: twilioError(400, 21220, 'Requested resource is not eligible for recording') };
      return { status: 201, body: recordingResource(recordings.start(call, params)) };
    }
    match = ACCOUNT_RECORDINGS.exec(path);
    if (match && method === 'GET') {
      const callSid = param('CallSid');
      const listed = callSid ? recordings.ofCall(callSid) : [...recordings.all].reverse();
      return { status: 200, body: recordingsPage(listed, path, callSid ? { CallSid: callSid } : {}, { page: param('Page'), pageSize: param('PageSize') }) };
    }
    match = CALL.exec(path);
    if (match && (method === 'POST' || method === 'GET')) {
      const call = calls.get(match[2] ?? '');
      if (!call) return notFound(path);
      if (method === 'GET') return { status: 200, body: callResource(call) };
      const status = param('Status');
      const redirect = param('Twiml') ?? param('Url');
      if (status !== undefined && status !== 'completed' && status !== 'canceled') {
        return { status: 400, body: twilioError(400, 21218, `Invalid 'Status' parameter value: ${status}`) };
      }
      if (redirect !== undefined && call.status !== 'in-progress' && call.status !== 'queued' && call.status !== 'ringing') {
        return { status: 400, body: twilioError(400, 21220, 'Call is not in-progress. Cannot redirect.') };
      }
      const twiml = param('Twiml');
      if (twiml !== undefined) runTwiml(call.sid, twiml);
      const ringing = call.status === 'queued' || call.status === 'ringing';
      const live = call.status === 'in-progress';
      // `completed` hangs up any live call; `canceled` only stops one not yet answered.
      if ((status === 'completed' && (ringing || live)) || (status === 'canceled' && ringing)) lifecycle.ended(call, status);
      else call.updatedAt = new Date();
      if (twiml !== undefined && live) outbound.redirected(call, twiml);
      // The answer shows the call as it is now: a redirect's TwiML runs once the stream is gone.
      const body = callResource(call);
      if (!live || (status === undefined && redirect === undefined)) return { status: 200, body };
      return { status: 200, body, effect: () => lifecycle.updated(call, status === undefined ? twiml : undefined) };
    }
    match = CALLS.exec(path);
    if (match && method === 'POST') {
      const to = param('To');
      const from = param('From');
      if (!to || !from) return { status: 400, body: twilioError(400, 21201, `No '${to ? 'From' : 'To'}' number is specified`) };
      if (!isDialable(to)) return { status: 400, body: twilioError(400, 21211, `The 'To' number ${to} is not a valid phone number.`) };
      if (!isDialable(from)) {
        return { status: 400, body: twilioError(400, 21212, `The 'From' number ${from} is not a valid phone number, shortcode, or alphanumeric sender ID.`) };
      }
      if (!param('Url') && !param('Twiml') && !param('ApplicationSid')) return { status: 400, body: twilioError(400, 21205, 'Url parameter is required.') };
      const call = addCall({ sid: twilioSid('CA'), to, from, direction: 'outbound-api', status: 'queued' });
      const resource = callResource(call); // the 201 shows the call as created: queued
      outbound.place(call, params);
      return { status: 201, body: resource };
    }
    return notFound(path);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    const body = parseForm((await readBody(req)).toString('utf8'));
    // A GET's parameters (list filters, paging) are in its query string.
    const params = req.method === 'GET' ? { ...parseForm(new URL(req.url ?? '/', 'http://127.0.0.1').search.slice(1)), ...body } : body;
    const auth = parseBasicAuth(req.headers.authorization);
    const method = req.method ?? 'GET';
    const pathAccountSid = /^\/2010-04-01\/Accounts\/([^/.]+)/.exec(path)?.[1];
    let result: RouteResult;
    if (!auth || auth.username !== accountSid || auth.password !== authToken || (pathAccountSid !== undefined && pathAccountSid !== accountSid)) {
      result = { status: 401, body: twilioError(401, 20003, 'Authenticate') };
      res.setHeader('WWW-Authenticate', 'Basic realm="Twilio API"');
    } else if (nextFailure) {
      result = { status: nextFailure.status, body: twilioError(nextFailure.status, nextFailure.code, nextFailure.message) };
      nextFailure = undefined;
    } else {
      result = route(method, path, params);
    }
    await result.effect?.();
    requests.push({ method, path, params, authAccountSid: auth?.username ?? null, status: result.status, at: new Date() });
    if ('audio' in result) {
      res.writeHead(result.status, { 'Content-Type': 'audio/x-wav', 'Content-Length': result.audio.length });
      res.end(result.audio);
      return;
    }
    if (!('body' in result)) {
      res.writeHead(result.status);
      res.end();
      return;
    }
    const json = JSON.stringify(result.body);
    res.writeHead(result.status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(json) });
    res.end(json);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      res.writeHead(500, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(twilioError(500, 20500, error instanceof Error ? error.message : 'Internal Server Error')));
    });
  });
  const port = await listenOnLoopback(server, options.port);
  baseUrl = `http://127.0.0.1:${port}`;

  return {
    url: baseUrl,
    accountSid,
    authToken,
    requests: requests.items,
    calls,
    recordings: recordings.all,
    deletedRecordings: recordings.deleted,
    addCall,
    addRecording: (recording) => recordings.add(recording),
    recordingAudio: (callSid, wav) => recordings.audioFor(callSid, wav),
    processRecordingsIn: (ms) => recordings.processIn(ms),
    loseNextRecordingCallback: () => recordings.loseNextCallback(),
    get lostRecordingCallbacks() {
      return recordings.lost;
    },
    waitForRecording: (predicate, timeoutMs) => recordings.updates.waitFor(predicate, timeoutMs),
    attachStream: (callSid, stream) => lifecycle.attachStream(callSid, stream),
    stopStreams(timing) {
      lifecycle.streamStop = timing;
    },
    hangUp(callSid) {
      const call = calls.get(callSid);
      if (!call) throw new Error(`no call ${callSid} at the Twilio stand-in`);
      return lifecycle.hangUp(call);
    },
    onCallEnded: (listener) => lifecycle.onCallEnded(listener),
    delayStatusCallbacks(ms) {
      lifecycle.statusCallbackDelayMs = ms;
    },
    downloads(recordingSid) {
      return downloads.get(recordingSid) ?? 0;
    },
    failNext(status, error = {}) {
      nextFailure = { status, code: error.code ?? 20000 + status, message: error.message ?? `Stand-in failure ${status}` };
    },
    waitForRequest(predicate, timeoutMs) {
      return requests.waitFor(predicate, timeoutMs);
    },
    placedCalls: outbound.placed,
    callbacks: outbound.callbacks.items,
    outcomeFor: (number, outcome) => outbound.outcomeFor(number, outcome),
    nextOutcome: (outcome) => outbound.nextOutcome(outcome),
    ringFor: (ms) => outbound.ringFor(ms),
    delayProgressCallbacks: (ms) => outbound.delayProgressCallbacks(ms),
    amdFor: (detectionMs, more) => outbound.amdFor(detectionMs, more),
    routeOrigin: (publicOrigin, realOrigin) => outbound.routeOrigin(publicOrigin, realOrigin),
    waitForVoiceTwiml: (callSid, timeoutMs) => outbound.waitForVoiceTwiml(callSid, timeoutMs),
    alerts,
    waitForCallback: (predicate, timeoutMs) => outbound.callbacks.waitFor(predicate, timeoutMs),
    async close() {
      requests.close('stand-in closed');
      await lifecycle.close();
      await outbound.close(); // aborts callbacks in flight, so closing the recordings waits for none
      await recordings.close();
      await closeServer(server);
    },
  };
}


/**
 * What Twilio dials: an E.164 number (a plus, then up to 15 digits) or a Client/SIP
 * address. Twilio rejects anything else at create time, before dialing (code 21211).
 */
function isDialable(number: string): boolean {
  return /^\+[1-9]\d{6,14}$/.test(number) || /^(client|sip):\S+$/.test(number);
}

/** application/x-www-form-urlencoded, where a repeated name (RecordingStatusCallbackEvent) is a list. */
function parseForm(body: string): Record<string, string | string[]> {
  const params: Record<string, string | string[]> = {};
  for (const [name, value] of new URLSearchParams(body)) {
    const existing = params[name];
    params[name] = existing === undefined ? value : Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  return params;
}

function parseBasicAuth(header: string | undefined): { username: string; password: string } | undefined {
  const match = /^Basic (.+)$/i.exec(header ?? '');
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
