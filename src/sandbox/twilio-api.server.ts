import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { EventLog } from './event-log.ts';
import { twilioSid } from './ids.ts';
import { callResource, recordingResource, twilioError, type CallState, type RecordingState } from './twilio-api.resources.ts';
import { silentWavFile, wavDurationSec } from './wav.ts';
import { closeServer, listenOnLoopback, readBody } from './http.ts';
import { OutboundCalls, type OutboundOutcome, type PlacedCall, type TwilioCallback } from './twilio-outbound.ts';
import { sayAlerts, type TwilioAlert } from './twiml-say.ts';

export type { CallState, RecordingState } from './twilio-api.resources.ts';
export type { OutboundOutcome, PlacedCall, TwilioCallback } from './twilio-outbound.ts';
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
}

export interface TwilioApiStandIn {
  /** Base URL to put in place of `https://api.twilio.com`. */
  readonly url: string;
  readonly accountSid: string;
  readonly authToken: string;
  /** Every request, in order, with the status it got. */
  readonly requests: readonly TwilioApiRequest[];
  /** Calls by SID: seeded with `addCall`, or created on first mention as in-progress inbound calls. */
  readonly calls: ReadonlyMap<string, CallState>;
  /** Recordings started, in order. */
  readonly recordings: readonly RecordingState[];
  /** Registers a call so its resource carries real numbers; returns its state. */
  addCall(call: Partial<CallState> & { sid: string }): CallState;
  /**
   * Registers a recording (default: completed, mono, 1 s of silence as 16-bit PCM 8 kHz WAV),
   * whose media is then served at `/2010-04-01/Accounts/{AccountSid}/Recordings/{sid}.wav`.
   */
  addRecording(recording: { callSid: string; sid?: string; status?: RecordingState['status']; audio?: Buffer; durationSec?: number; channels?: 1 | 2 }): RecordingState;
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
  /** How long outbound calls ring before they are answered or ring out; also the async AMD delay. */
  ringFor(ms: number): void;
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
const RECORDING = /^\/2010-04-01\/Accounts\/(AC[0-9a-f]{32})\/Recordings\/(RE[0-9a-f]{32})\.(json|wav|mp3)$/;

/** A JSON answer, or a recording's media. */
type RouteResult = { status: number; body: unknown } | { status: number; audio: Buffer };

/**
 * Starts a local stand-in for the parts of Twilio's REST API Callwatch uses — start a call
 * recording, fetch a recording and download its WAV, update (redirect or hang up) a call,
 * create and fetch calls — on 127.0.0.1, with Twilio's paths, form-encoded parameters,
 * Basic auth and JSON shapes. A created call is then dialed as Twilio would, with signed
 * callbacks to the application (see `twilio-outbound.ts`).
 */
export async function startTwilioApiStandIn(options: TwilioApiStandInOptions = {}): Promise<TwilioApiStandIn> {
  const accountSid = options.accountSid ?? twilioSid('AC');
  const authToken = options.authToken ?? randomBytes(16).toString('hex');
  const requests = new EventLog<TwilioApiRequest>('Twilio API request');
  const calls = new Map<string, CallState>();
  const recordings: RecordingState[] = [];
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
    addRecording: (callSid, durationSec) => addRecording({ callSid, durationSec }),
    ringMs: options.ringMs,
  });

  function addCall(call: Partial<CallState> & { sid: string }): CallState {
    const now = new Date();
    const state: CallState = { accountSid, from: '+15005550006', to: '+15005550001', direction: 'inbound', status: 'in-progress', createdAt: now, updatedAt: now, endedAt: null, ...call };
    calls.set(state.sid, state);
    return state;
  }

  function addRecording(recording: Parameters<TwilioApiStandIn['addRecording']>[0]): RecordingState {
    const channels = recording.channels ?? 1;
    const audio = recording.audio ?? silentWavFile(recording.durationSec ?? 1, { sampleRate: 8000, channels });
    const state: RecordingState = {
      sid: recording.sid ?? twilioSid('RE'),
      accountSid,
      callSid: recording.callSid,
      channels,
      track: 'both',
      status: recording.status ?? 'completed',
      createdAt: new Date(),
      audio,
      durationSec: recording.durationSec ?? wavDurationSec(audio),
    };
    recordings.push(state);
    return state;
  }

  function notFound(path: string): RouteResult {
    return { status: 404, body: twilioError(404, 20404, `The requested resource ${path} was not found`) };
  }

  function route(method: string, path: string, params: Record<string, string | string[]>): RouteResult {
    const param = (name: string) => (Array.isArray(params[name]) ? params[name][0] : params[name]);
    let match = RECORDING.exec(path);
    if (match && method === 'GET') {
      const sid = match[2];
      const recording = recordings.find((candidate) => candidate.sid === sid);
      if (!recording) return notFound(path);
      if (match[3] === 'json') return { status: 200, body: recordingResource(recording) };
      // Twilio has media only once the recording completed; the stand-in keeps WAV only.
      if (match[3] !== 'wav' || recording.status !== 'completed' || !recording.audio) return notFound(path);
      downloads.set(recording.sid, (downloads.get(recording.sid) ?? 0) + 1);
      return { status: 200, audio: recording.audio };
    }
    match = RECORDINGS.exec(path);
    if (match && method === 'POST') {
      const call = calls.get(match[2] ?? '') ?? addCall({ sid: match[2] ?? '' });
      if (call.status !== 'in-progress') return { status: 400, body: twilioError(400, 21220, 'Requested resource is not eligible for recording') };
      const recording: RecordingState = {
        sid: twilioSid('RE'),
        accountSid,
        callSid: call.sid,
        channels: param('RecordingChannels') === 'dual' ? 2 : 1,
        track: param('RecordingTrack') ?? 'both',
        status: 'in-progress',
        createdAt: new Date(),
      };
      recordings.push(recording);
      return { status: 201, body: recordingResource(recording) };
    }
    match = CALL.exec(path);
    if (match && (method === 'POST' || method === 'GET')) {
      const call = calls.get(match[2] ?? '') ?? addCall({ sid: match[2] ?? '' });
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
      // `completed` hangs up any live call; `canceled` only stops one not yet answered.
      if ((status === 'completed' && (ringing || call.status === 'in-progress')) || (status === 'canceled' && ringing)) {
        call.status = status;
        call.endedAt = new Date();
        outbound.hungUp(call);
      }
      call.updatedAt = new Date();
      return { status: 200, body: callResource(call) };
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
    const params = parseForm((await readBody(req)).toString('utf8'));
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
    requests.push({ method, path, params, authAccountSid: auth?.username ?? null, status: result.status, at: new Date() });
    if ('audio' in result) {
      res.writeHead(result.status, { 'Content-Type': 'audio/x-wav', 'Content-Length': result.audio.length });
      res.end(result.audio);
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
    recordings,
    addCall,
    addRecording,
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
    routeOrigin: (publicOrigin, realOrigin) => outbound.routeOrigin(publicOrigin, realOrigin),
    waitForVoiceTwiml: (callSid, timeoutMs) => outbound.waitForVoiceTwiml(callSid, timeoutMs),
    alerts,
    waitForCallback: (predicate, timeoutMs) => outbound.callbacks.waitFor(predicate, timeoutMs),
    async close() {
      requests.close('stand-in closed');
      await outbound.close();
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
