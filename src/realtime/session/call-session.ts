import { performance } from 'node:perf_hooks';
import type { WebSocket, RawData } from 'ws';
import {
  timelineEventTypes,
  type AgentEvent,
  type CallEvent,
  type EventBus,
  type TranscriptTurn,
} from '../../core/events.ts';
import { describeError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import type { ConversationItemCreateEvent } from 'openai/resources/realtime/realtime';
import type { Metrics } from '../../core/metrics.ts';
import { CallAgent, shutdownEndReason, type CallAgentDeps } from '../agent/call-agent.ts';
import type { CallContext } from '../call-context.ts';
import { handOverOrApologise } from '../twilio-line/call-control.ts';
import { CallTranscript } from './call-transcript.ts';
import { CallSupervision } from './supervision.ts';
import { HeldClientEvents } from './held-client-events.ts';
import { answerDirective, apologyDirective, continueDirective, greetingDirective, responseInstructions, supervisorNote } from '../agent/agent-lines.ts';
import { restoredConversation } from './session-restore.ts';
import { SessionRollover } from './session-rollover.ts';
import { appendAudioMessage, sessionUpdate, truncateEvent } from './openai-realtime.protocol.ts';
import { parseServerEvent, type ServerEventOf } from './openai-realtime.server-events.ts';
import { ResponseQueue, type ResponseRequest } from '../agent/response-queue.ts';
import type { LeadCapture } from '../agent/tools/call-tools.ts';
import type { CallRef, StreamClaims, TokenCheck } from '../twilio-line/stream-token.ts';
import { InboundAudioGaps, silenceFrameAppend, silenceFramePayload } from '../twilio-line/inbound-audio-gaps.ts';
import { FrameBudget } from '../twilio-line/frame-budget.ts';
import { PlaybackClock } from './playback-clock.ts';
import { CallEnding, type Ending } from './call-ending.ts';
import { CallTrace } from './call-trace.ts';
import { parseTwilioMessage, twilioClearMessage, twilioMarkMessage, twilioMediaMessage } from '../twilio-line/twilio-media.protocol.ts';
import type { CallLatency, CallUsage } from '../../core/call-usage.ts';
import type { PriceTable } from '../../core/prices.ts';
import { CallMeter } from './call-meter.ts';

/** What a finished call produced; persisted in one transaction by the owner of the session. */
export interface CallOutcome {
  context: CallContext;
  startedAt: Date;
  endedAt: Date;
  durationSec: number;
  turns: TranscriptTurn[];
  reason: string;
  /** The call failed (the voice agent was lost and could not be recovered). */
  failed: boolean;
  /** What the agent did: tools, reprompts, hand-overs, failures (AgentEvent and lifecycle). */
  timeline: CallEvent[];
  /** Lead details the agent captured (save_lead_details). */
  lead: LeadCapture;
  /** Twilio is recording the call (its recording callback, or the safety net, starts the pipeline). */
  recordingStarted: boolean;
  /** How long the caller waited for the agent (CallMeter). */
  latency: CallLatency;
  /** What the call used of OpenAI, and its estimated cost (CallMeter). */
  usage: CallUsage;
  /** The call span's W3C traceparent, for the post-call jobs; undefined when tracing is off. */
  traceparent?: string;
}

export interface CallSessionDeps {
  logger: Logger;
  metrics: Metrics;
  bus: EventBus;
  transcriptionModel: string;
  verifyToken: (token: unknown) => TokenCheck;
  /** Binds a verified token to this stream: false when another stream presented it first. */
  claimToken: (claims: StreamClaims) => boolean;
  /** The pre-warmed context, or a fresh load (one batched tick) when none waits here. */
  loadContext: (claims: CallRef) => Promise<CallContext>;
  /**
   * The OpenAI Realtime connection for a verified call: the one its voice webhook pre-opened
   * on this instance, or a new one. Called only once the stream's token has been checked.
   */
  openRealtime: (callSid: string) => RealtimeConnection;
  /**
   * Called once, when the call has started on both sides, to start its recording. Resolves
   * (never rejects) to whether the recording started — known by the call's end, which waits
   * for it; undefined when the call is not recorded.
   */
  onStarted?: (context: CallContext) => Promise<boolean> | undefined;
  /** The Realtime model the call's sessions use and what it costs: the call's `usage` is priced with it. */
  pricing: { realtimeModel: string; prices: PriceTable };
  /** Persists the outcome. Called exactly once per started call, never for a rejected one. */
  persist: (outcome: CallOutcome) => Promise<void>;
  /** Tools' booking and Twilio call control for the agent. */
  agent: Omit<CallAgentDeps, 'logger'>;
  /** How long a connection (or reconnection) to OpenAI may take before the call is given up. Default 5 s. */
  reconnectTimeoutMs?: number;
  /** How long a media socket may wait for a valid `start` before it is closed. Default 5 s. */
  startTimeoutMs?: number;
  /**
   * How long one OpenAI session carries the call before it is rolled over to a new one at
   * a quiet moment (OPENAI_SESSION_MAX_SEC). OpenAI ends a session at 60 minutes. Default 3300 s.
   */
  sessionMaxMs?: number;
}

/** Why a stream sending more media than Twilio does was closed (1008), and the call's end reason. */
export const mediaRateExceeded = 'media rate exceeded';

/** An OpenAI Realtime socket, open or opening, with what it received before the call took it. */
export interface RealtimeConnection {
  socket: WebSocket;
  early?: RawData[];
}

/** Caller audio held while OpenAI is not ready yet: at most this many 20 ms frames (30 s). */
const maxBufferedFrames = 1500;

/**
 * One phone call: the Twilio media stream and, once its `start` carries a valid token, the
 * OpenAI Realtime socket (pre-opened by the voice webhook, or opened then). (About 1000
 * lines, on purpose: this is the one place the two sockets meet, and what needs both stays
 * here — the relay, one short handler per OpenAI event (`#onRealtimeMessage`), the OpenAI
 * socket's lifecycle (configure, reconnect, expiry, the move to a rolled-over session) and
 * the call's own (start, give up, end, the goodbye at a shutdown's drain deadline; which
 * reason wins when endings race is call-ending).
 * Everything that can be decided without the sockets lives beside it as a unit with its
 * own tests: when the agent speaks (agent/response-queue), what it says (agent/agent-lines),
 * what the caller heard (playback-clock), when to roll over (session-rollover), what a new
 * session is told (session-restore), the transcript, supervision. The OpenAI socket's
 * lifecycle is the next thing to move out, as a class of its own.) The session owns both
 * sockets — when either closes, both close — and holds everything the call produces in
 * memory until the end. Nothing here touches the database. Every handler is contained: what
 * one throws ends this call, never the process.
 *
 * Audio is relayed as base64 strings, never decoded. Caller frames that arrive before
 * OpenAI is ready are buffered and sent in order once it is. What the caller has heard
 * comes from Twilio's marks (PlaybackClock: a mark every 300 ms of agent audio and at the
 * end of each item); the audio of a response the caller interrupted is dropped.
 */
export class CallSession {
  readonly #twilio: WebSocket;
  /** The OpenAI socket, from a verified `start` on; replaced once if it fails mid-call (#recover). */
  #openai: WebSocket | undefined;
  readonly #deps: CallSessionDeps;
  #log: Logger;
  #state: 'awaiting-start' | 'starting' | 'live' | 'ended' = 'awaiting-start';
  #streamSidJson = '""';
  #context: CallContext | undefined;
  #startedAt = new Date();
  #openaiOpen = false;
  /** The current session took our configuration (session.updated, μ-law both ways): audio and the agent's events may flow. */
  #ready = false;
  /** The `event_id` of the session.update on the current socket, to tell its refusal from other errors. */
  #configureEventId: string | undefined;
  #configures = 0;
  readonly #pending: string[] = [];
  /** What the agent sent while the session was not ready (a reconnect); see HeldClientEvents. */
  readonly #held = new HeldClientEvents();
  /** Why the OpenAI session failed before the call went live, once the context is there to act on it. */
  #lostBeforeLive: string | undefined;
  /** The last thing OpenAI said went wrong on the current socket (an error event or a refused upgrade). */
  #openaiProblem: string | undefined;
  /** The current socket's session has sent something other than an error: it came up. */
  #openaiAnswered = false;
  /** Every response Callwatch asks of the model goes through here (what waits, what is retried). */
  readonly #responses: ResponseQueue;
  #startTimer: NodeJS.Timeout | undefined;
  /** Gives the call up if the OpenAI session has not answered in time (#watchConnect). */
  #connectTimer: NodeJS.Timeout | undefined;
  readonly #transcript = new CallTranscript();
  /** What the caller has heard of the agent (Twilio's marks), and which responses' audio to drop. */
  readonly #playback = new PlaybackClock();
  readonly #ending: CallEnding;
  #agent: CallAgent | undefined;
  /** Resolved when the agent audio sent so far has played (its mark came back). */
  #playedOut: (() => void)[] = [];
  readonly #timeline: CallEvent[] = [];
  #failed = false;
  #recordingStarted: Promise<boolean> | undefined;
  /** The call is being handed over or apologised for (#giveUp): nothing more to recover. */
  #givenUp = false;
  #recovering = false;
  /** What the reconnect in progress recovers from: a lost session (the caller hears an apology) or an expired one (restored quietly). */
  #recoveredFrom: { problem: string; kind: 'lost' | 'expired' } | undefined;
  /** OpenAI said the current session hit its maximum duration; its close is an expiry, not a failure. */
  #sessionExpired = false;
  /** Moves the call to a new OpenAI session before OpenAI's cap, at a quiet moment. */
  readonly #rollover: SessionRollover;
  #callerSpeaking = false;
  #rollovers = 0;
  #reconnects = 0;
  /** Supervisors' commands and listen-in, from any instance, while the call is live. */
  #supervision: CallSupervision | undefined;
  readonly #audioSeq = { caller: 0, agent: 0 };
  /** Where Twilio's inbound timestamps jump: audio lost on the way, replaced with silence. */
  readonly #inboundGaps = new InboundAudioGaps();
  /** Twilio's 50 frames a second plus a burst: a stream sending more is not Twilio, and is closed. */
  readonly #frameBudget = new FrameBudget(performance.now());
  /** The stream went over its frame budget: closed, its frames still in flight dropped. */
  #overBudgetClosed = false;
  /** Greeting and turn latencies, audio and tokens: written with the call's end. */
  readonly #meter: CallMeter;
  /** The call's trace (call-trace.ts), from a verified `start`: a few moments per turn, never per frame. */
  #trace: CallTrace | undefined;

  constructor(twilio: WebSocket, deps: CallSessionDeps) {
    this.#twilio = twilio;
    this.#deps = deps;
    this.#log = deps.logger.child({ component: 'call-session' });
    this.#ending = new CallEnding((ending) => this.#finish(ending), this.#log);
    // The one measurement of the greeting and the turns: the histograms, Call.latency and the trace's spans.
    this.#meter = new CallMeter({ observe: (name, seconds) => deps.metrics.observe(name, seconds), onGreeting: (greeting) => this.#trace?.greeted(greeting), onTurn: (turn) => this.#trace?.turn(turn) });
    this.#responses = new ResponseQueue({
      send: (event) => {
        if (this.#openai && isOpen(this.#openai)) this.#openai.send(JSON.stringify(event));
      },
      instructions: (directive) => responseInstructions(this.#requireContext(), directive),
      continueDirective: () => continueDirective(this.#requireContext()),
      answerDirective: () => answerDirective(this.#requireContext()),
      failed: (code, retryInMs) => {
        this.#deps.metrics.incrementLabeled('openai_response_failed_total', code);
        this.#log.warn({ code, retryInMs }, retryInMs === undefined ? 'openai response failed: giving up' : 'openai response failed: retrying');
      },
      lost: (problem) => this.#contain(() => this.#agentLost(problem)),
    });
    const session = this;
    this.#rollover = new SessionRollover(
      {
        // The call's logger gains its callSid at `start`.
        get log() {
          return session.#log;
        },
        open: () => this.#deps.openRealtime(this.#requireContext().callSid).socket,
        sessionUpdate: (eventId) => ({ ...sessionUpdate(this.#requireContext(), deps.transcriptionModel), event_id: eventId }),
        canMove: () => this.#state === 'live' && this.#ready && !this.#givenUp && !this.#responses.closing && this.#quiet(),
        moveTo: (socket, eventId) => this.#moveTo(socket, eventId),
        contain: (handler) => this.#contain(handler),
      },
      { maxMs: deps.sessionMaxMs ?? 3_300_000, connectTimeoutMs: deps.reconnectTimeoutMs ?? 5000, retryMs: rolloverRetryMs },
    );
    // The audio path: contained without a closure per frame.
    twilio.on('message', (data, isBinary) => {
      try {
        this.#onTwilioMessage(data, isBinary);
      } catch (error) {
        this.#crashed(error);
      }
    });
    twilio.on('close', () => void this.streamEnded('close'));
    twilio.on('error', (error: Error & { code?: string }) => {
      if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') deps.metrics.increment('media_oversized_frame_total');
      this.#log.warn({ err: describeError(error) }, 'twilio socket error');
    });
    // Twilio sends `start` right after connecting; a socket that does not is not Twilio.
    this.#startTimer = setTimeout(() => {
      if (this.#state !== 'awaiting-start') return;
      deps.metrics.increment('media_start_timeout_total');
      this.#log.warn('media stream closed: no valid start in time');
      this.#reject('no valid start in time');
    }, deps.startTimeoutMs ?? 5000);
  }

  /**
   * Attaches to an OpenAI socket (open already, or opening); `onOpen` runs once it is open.
   * Events of a replaced socket are ignored.
   */
  #useOpenAI({ socket, early = [] }: RealtimeConnection, onOpen: () => void): WebSocket {
    this.#openaiProblem = undefined;
    this.#openaiAnswered = false;
    this.#sessionExpired = false;
    let opened = isOpen(socket);
    if (opened)
      queueMicrotask(() =>
        this.#contain(() => {
          onOpen();
          // What the session said before this call took it, in order.
          for (const data of early) if (socket === this.#openai) this.#onRealtimeMessage(data);
        }),
      );
    else
      socket.on('open', () => {
        opened = true;
        this.#contain(onOpen);
      });
    socket.on('message', (data) => {
      if (socket !== this.#openai) return;
      try {
        this.#onRealtimeMessage(data);
      } catch (error) {
        this.#crashed(error);
      }
    });
    socket.on('close', () => {
      if (socket !== this.#openai) return;
      const problem = this.#openaiProblem ? `${this.#openaiProblem}; the connection closed` : 'the OpenAI connection closed';
      // Mid-call the agent is worth one reconnect; a session that never came up (a refused
      // model: only errors, then the close), or one lost after the call ended, is not.
      if (this.#state === 'live' && this.#sessionExpired) this.#recover('the OpenAI session expired', 'expired');
      else if (this.#state === 'live' && (this.#openaiAnswered || this.#recovering)) this.#recover(problem, 'lost');
      else if (this.#state === 'live' || this.#state === 'starting') this.#neverCameUp(problem);
    });
    socket.on('error', (error) => {
      this.#log.warn({ err: describeError(error) }, 'openai socket error');
      // An error before the socket opened is OpenAI (or the network) refusing the connection.
      if (socket === this.#openai && !opened) this.#openaiProblem = `OpenAI refused the connection (${describeError(error)})`;
    });
    return socket;
  }

  /** The call's id once its stream has started (the heartbeat lists it as held here). */
  get callId(): string | undefined {
    return this.#context?.callId;
  }

  #requireContext(): CallContext {
    if (!this.#context) throw new Error('the call has no context yet');
    return this.#context;
  }

  /** Adds the agent's item, or holds it while the session reconnects (sent once it is configured). */
  #sendAgentEvent(event: ConversationItemCreateEvent): void {
    if (this.#ready && this.#openai && isOpen(this.#openai)) this.#openai.send(JSON.stringify(event));
    else this.#held.hold(event);
  }

  /**
   * Runs one of the call's handlers. Whatever it throws ends this call the way a lost agent
   * does — written, failed, the caller handed over or apologised to — never the process.
   */
  #contain(handler: () => void): void {
    try {
      handler();
    } catch (error) {
      this.#crashed(error);
    }
  }

  #crashed(error: unknown): void {
    this.#deps.metrics.increment('call_handler_errors_total');
    this.#log.error({ err: describeError(error), stack: error instanceof Error ? error.stack : undefined }, 'unexpected error in a call: ending it');
    // Already being handed over: let that finish (it ends the call), or the caller would
    // lose the apology or the transfer in flight.
    if (this.#givenUp) return;
    // Once: if giving up is what threw, the call just ends.
    if (this.#context && (this.#state === 'live' || this.#state === 'starting')) {
      try {
        return this.#giveUp('internal error');
      } catch (again) {
        this.#log.error({ err: describeError(again) }, 'cannot give the call up cleanly');
      }
    }
    void this.end('internal error');
  }

  /** Closes a media socket that never became a call; nothing is written. */
  #reject(reason: string): void {
    clearTimeout(this.#startTimer);
    this.#state = 'ended';
    this.#ending.abandon();
    closeTwilio(this.#twilio, 1008, reason);
  }

  /** Ends the call: closes both sockets, then persists what it produced. Idempotent: the first reason stays. */
  end(reason: string, failed = false): Promise<void> {
    return this.#ending.end(reason, failed);
  }

  /**
   * The instance is shutting down and the drain is over: a live call's agent says a short
   * goodbye (or transfers the caller) and hangs up, and the call is written as usual; a call
   * not live yet just ends. A hand-over already under way (the agent was lost) goes on.
   */
  shutDown(): void {
    if (this.#ending.started || this.#givenUp) return;
    const agent = this.#agent;
    if (this.#state === 'live' && agent) return this.#contain(() => agent.shutDown());
    void this.end(shutdownEndReason);
  }

  /** Ends the phone call through Twilio's REST API, then the session (CallEnding.endThrough). */
  endThrough(intended: string, act: () => Promise<Ending | null>): Promise<void> {
    return this.#ending.endThrough(intended, act);
  }

  /** Twilio ended the media stream (`stop`, or the socket closed): CallEnding.streamEnded. */
  streamEnded(how: 'stop' | 'close'): Promise<void> {
    return this.#ending.streamEnded(how);
  }

  async #finish({ reason, failed }: Ending): Promise<void> {
    if (failed) this.#failed = true;
    this.#state = 'ended';
    clearTimeout(this.#startTimer);
    clearTimeout(this.#connectTimer);
    this.#rollover.stop();
    this.#agent?.stop();
    this.#responses.close();
    this.#supervision?.stop();
    this.#wakePlayedOut();
    closeTwilio(this.#twilio, 1000, 'call ended');
    if (this.#openai) closeSocket(this.#openai, 1000, 'call ended');
    this.#meter.ended();
    const context = this.#context;
    // A verified stream whose call never started (its context did not load): its span ends too.
    if (!context) return this.#trace?.ended({ reason, failed: this.#failed, durationSec: 0 });
    const endedAt = new Date();
    const durationSec = Math.round((endedAt.getTime() - this.#startedAt.getTime()) / 1000);
    this.#deps.metrics.increment('calls_ended_total');
    const status = this.#failed ? 'failed' : 'completed';
    this.#trace?.ended({ reason, failed: this.#failed, durationSec });
    this.#publishLifecycle({ type: 'call.ended', callId: context.callId, callSid: context.callSid, durationSec, reason, status, at: endedAt.toISOString() });
    const turns = this.#transcript.turns();
    const lead = this.#agent?.tools.lead ?? {};
    try {
      const recordingStarted = (await this.#recordingStarted) ?? false;
      const latency = this.#meter.latency();
      const usage = this.#meter.usage(this.#deps.pricing.realtimeModel, this.#deps.pricing.prices);
      await this.#deps.persist({ context, startedAt: this.#startedAt, endedAt, durationSec, turns, reason, failed: this.#failed, timeline: this.#timeline, lead, recordingStarted, latency, usage, traceparent: this.#trace?.traceparent });
      this.#log.info({ reason, durationSec, turns: turns.length }, 'call ended');
    } catch (error) {
      this.#log.error({ err: describeError(error) }, 'failed to persist the call');
    }
  }

  #onTwilioMessage(data: RawData, isBinary: boolean): void {
    const parsed = isBinary ? ({ ok: false, problem: 'invalid-json' } as const) : parseTwilioMessage(data.toString());
    if (!parsed.ok) {
      const counter = { 'invalid-json': 'media_invalid_json_total', 'unknown-event': 'media_unknown_event_total', 'invalid-payload': 'media_invalid_payload_total' } as const;
      this.#deps.metrics.increment(counter[parsed.problem]);
      return;
    }
    const message = parsed.message;
    switch (message.event) {
      case 'media': {
        if (this.#state === 'awaiting-start') return this.#deps.metrics.increment('media_before_start_total');
        if (this.#state === 'ended' || this.#overBudgetClosed) return;
        if (!this.#frameBudget.take(performance.now())) return this.#overBudget();
        if (message.track !== 'inbound') return;
        // Audio lost on the way is silence to OpenAI, so its VAD hears the caller stop.
        const silentFrames = this.#inboundGaps.silenceBefore(message.timestamp, message.payload);
        if (silentFrames > 0) {
          this.#deps.metrics.increment('media_gap_filled_total');
          for (let frame = 0; frame < silentFrames; frame++) this.#relayCallerFrame(silenceFramePayload, silenceFrameAppend);
        }
        if (this.#supervision?.listening) this.#publishAudio('caller', message.payload);
        return this.#relayCallerFrame(message.payload);
      }
      case 'start':
        return void this.#onStart(message.streamSid, message.callSid, message.customParameters).catch((error: unknown) => this.#crashed(error));
      case 'mark':
        // Twilio returns a mark once the audio before it has played; the last one: the agent is done talking.
        if (this.#playback.markReturned(message.name)) this.#playbackDone();
        return;
      case 'stop':
        return void this.streamEnded('stop');
      case 'dtmf':
        // A key before the call is live, or after it ended, has no agent to hear it.
        if (this.#state === 'live') this.#agent?.keyPressed(message.digit);
        return;
      case 'connected':
        return;
    }
  }

  /**
   * The stream sent more frames than Twilio does: closed (1008) before more of its audio is
   * billed, and the call ends as any other, written with the reason.
   */
  #overBudget(): void {
    this.#overBudgetClosed = true;
    this.#deps.metrics.increment('media_rate_exceeded_total');
    this.#log.warn('media stream closed: media rate exceeded');
    closeTwilio(this.#twilio, 1008, mediaRateExceeded);
    void this.end(mediaRateExceeded);
  }

  /** Sends one caller frame to OpenAI, or holds it while the session is not ready (at most `maxBufferedFrames`). */
  #relayCallerFrame(payload: string, append?: string): void {
    this.#meter.callerAudio(payload);
    if (this.#ready && this.#openai) {
      this.#openai.send(append ?? appendAudioMessage(payload));
      this.#deps.metrics.increment('frames_to_openai_total');
      return;
    }
    if (this.#pending.length >= maxBufferedFrames) {
      this.#pending.shift();
      this.#deps.metrics.increment('media_buffer_overflow_total');
    }
    this.#pending.push(payload);
    this.#deps.metrics.increment('media_buffered_frames_total');
  }

  async #onStart(streamSid: string, callSid: string, parameters: Record<string, string>): Promise<void> {
    if (this.#state !== 'awaiting-start') return this.#deps.metrics.increment('media_duplicate_start_total');
    const check = this.#deps.verifyToken(parameters.token);
    if (!check.ok || check.claims.callSid !== callSid) {
      this.#deps.metrics.increment('media_bad_token_total');
      this.#log.warn({ reason: check.ok ? 'token for another call' : check.reason }, 'media stream rejected');
      return this.#reject('invalid stream token');
    }
    if (!this.#deps.claimToken(check.claims)) {
      // A replay (a second socket, or the call already ended): no OpenAI session, no write.
      this.#deps.metrics.increment('media_token_reused_total');
      this.#log.warn({ callSid }, 'media stream rejected: stream token already used');
      return this.#reject('stream token already used');
    }
    clearTimeout(this.#startTimer);
    this.#meter.streamStarted();
    this.#state = 'starting';
    this.#streamSidJson = JSON.stringify(streamSid);
    this.#log = this.#log.child({ callSid });
    this.#trace = new CallTrace(callSid);
    // Only now, for a verified call, does the call get an OpenAI session.
    this.#openai = this.#useOpenAI(this.#deps.openRealtime(callSid), () => {
      this.#openaiOpen = true;
      this.#startRealtime();
    });
    this.#watchConnect(this.#openai, () => this.#neverCameUp('the OpenAI session did not come up in time'));
    try {
      const context = await this.#deps.loadContext(check.claims);
      // The call may have ended while the context loaded.
      if (this.#ending.started) return;
      this.#context = context;
      this.#trace?.loaded(context);
    } catch (error) {
      this.#log.error({ err: describeError(error) }, 'cannot load the call context');
      return void this.end('context unavailable');
    }
    this.#deps.metrics.increment('calls_started_total');
    if (this.#lostBeforeLive !== undefined) return this.#neverCameUp(this.#lostBeforeLive);
    this.#startRealtime();
  }

  /**
   * Runs `timedOut` when the session on `socket` has not taken our configuration within
   * the connect timeout. Configured, not open: OpenAI can accept the websocket and then
   * never start the session, or never answer the session.update, and the caller would
   * wait in silence.
   */
  #watchConnect(socket: WebSocket, timedOut: () => void): void {
    clearTimeout(this.#connectTimer);
    this.#connectTimer = setTimeout(() => {
      if (this.#openai === socket && !this.#ready) this.#contain(timedOut);
    }, this.#deps.reconnectTimeoutMs ?? 5000);
    socket.once('close', () => {
      if (this.#openai === socket) clearTimeout(this.#connectTimer);
    });
  }

  /** Sends our session.update on the current socket; the session is ready once it is confirmed (#configured). */
  #configure(socket: WebSocket, context: CallContext): void {
    this.#configureEventId = `cw_session_${++this.#configures}`;
    socket.send(JSON.stringify({ ...sessionUpdate(context, this.#deps.transcriptionModel), event_id: this.#configureEventId }));
  }

  /**
   * Once both the context and the OpenAI socket are there: configure the session. Nothing
   * else goes to OpenAI — no caller audio, no greeting — until OpenAI confirms it: until
   * then the session speaks PCM 24 kHz, and μ-law audio would be noise both ways.
   */
  #startRealtime(): void {
    const context = this.#context;
    const openai = this.#openai;
    if (!context || !openai || !this.#openaiOpen || this.#configureEventId || this.#state !== 'starting') return;
    this.#configure(openai, context);
  }

  /**
   * `session.updated` for our configuration: checks that both audio formats are μ-law, then
   * goes live (the first session) or resumes the call (after a reconnect). A session that
   * reports anything else cannot carry the call.
   */
  #configured(event: ServerEventOf<'session.updated'>): void {
    if (this.#ready || !this.#configureEventId) return;
    const audio = event.session.audio;
    const formats = [audio?.input?.format?.type, audio?.output?.format?.type];
    if (formats.some((format) => format !== 'audio/pcmu')) {
      return this.#configurationRefused(`OpenAI did not apply μ-law audio (input ${formats[0] ?? 'unknown'}, output ${formats[1] ?? 'unknown'})`);
    }
    clearTimeout(this.#connectTimer);
    if (this.#state === 'starting') this.#goLive();
    else if (this.#recovering) this.#resumed();
  }

  /** OpenAI refused our session.update (or applied something else): there is no agent to speak. */
  #configurationRefused(problem: string): void {
    this.#deps.metrics.increment('realtime_session_failed_total');
    this.#log.error({ problem }, 'the OpenAI session refused its configuration');
    if (this.#state === 'starting') return this.#neverCameUp(problem);
    const context = this.#context;
    if (context) this.#publish({ type: 'agent.failure', callId: context.callId, problem, recovered: false, at: new Date().toISOString() });
    this.#giveUp(problem);
  }

  /** The first session is configured: the call is live, the agent greets, buffered audio goes. */
  #goLive(): void {
    const context = this.#context;
    const openai = this.#openai;
    if (!context || !openai) return;
    this.#ready = true;
    this.#state = 'live';
    // The greeting first: what follows (the agent, supervision, call.started) is off its path.
    this.#responses.request({ reason: 'greeting', directive: greetingDirective(context) });
    this.#responses.resume();
    for (const payload of this.#pending.splice(0)) openai.send(appendAudioMessage(payload));
    this.#agent = new CallAgent(
      {
        context,
        send: (event) => this.#sendAgentEvent(event),
        respond: (request) => this.#responses.request(request),
        record: (event) => this.#publish(event),
        playedOut: () => this.#whenPlayedOut(),
        endThrough: (intended, act) => this.endThrough(intended, act),
        fail: (error) => this.#crashed(error),
      },
      { ...this.#deps.agent, logger: this.#log },
    );
    this.#agent.start();
    this.#supervision = new CallSupervision(this.#deps.bus, {
      context,
      live: () => this.#state === 'live',
      whisper: (text) => this.#sendAgentEvent(supervisorNote(text)),
      control: this.#deps.agent.callControl,
      endThrough: (intended, act) => this.endThrough(intended, act),
      recorded: (command, result) =>
        this.#contain(() => {
          const detail = command.action === 'whisper' ? command.text : command.action === 'transfer' ? command.to : null;
          this.#publish({ type: 'supervisor.action', callId: context.callId, action: command.action, detail, apiKeyId: command.apiKeyId, acted: result.acted, error: result.error, at: new Date().toISOString() });
        }),
    });
    this.#publishLifecycle({ type: 'call.started', callId: context.callId, callSid: context.callSid, direction: context.direction, at: this.#startedAt.toISOString() });
    this.#recordingStarted = this.#deps.onStarted?.(context);
    this.#rollover.schedule();
  }

  #publishAudio(track: 'caller' | 'agent', payload: string): void {
    const context = this.#context;
    if (context) this.#deps.bus.publish('call:audio', context.callId, { track, seq: ++this.#audioSeq[track], payload });
  }

  /** Nothing of the agent's audio is left to play (it played, was cleared, or the call ended). */
  #wakePlayedOut(): void {
    for (const resolve of this.#playedOut.splice(0)) resolve();
  }

  /** The agent's audio has played: wake whoever waits for it, let the watchdog count silence. */
  #playbackDone(): void {
    this.#wakePlayedOut();
    this.#agent?.agentStopped();
    this.#rollover.maybeNow();
  }

  /** Agent audio sent to Twilio has not all played yet. */
  #agentAudioPending(): boolean {
    return !this.#playback.playedOut;
  }

  /**
   * Resolves once the agent audio sent so far has played to the caller: when Twilio returns
   * the last mark, or — should a mark never come — a second after the send clock says it
   * ended.
   */
  #whenPlayedOut(): Promise<void> {
    if (this.#playback.playedOut || this.#state === 'ended') return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, this.#playback.lostMarkDeadlineMs());
      this.#playedOut.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /**
   * The OpenAI session is gone mid-call: lost (a dropped socket, a server that closed it) or
   * expired (OpenAI's 60-minute cap reached before a rollover could happen). A new socket,
   * the same configuration, the conversation so far restored as items, and the agent picks
   * up where it was; caller audio meanwhile is buffered as at the start. A lost session is
   * worth one reconnect, and the caller hears an apology; an expiry is not a failure. If the
   * reconnect fails too, the call is given up.
   */
  #recover(problem: string, kind: 'lost' | 'expired'): void {
    const context = this.#context;
    if (!context || this.#state !== 'live' || this.#givenUp) return;
    if (kind === 'lost') this.#publish({ type: 'agent.failure', callId: context.callId, problem, recovered: false, at: new Date().toISOString() });
    else this.#log.info('the OpenAI session expired: restoring the conversation on a new one');
    // The reconnect itself failed, or the reconnected session failed too: give up.
    if (this.#recovering || (kind === 'lost' && this.#reconnects >= 1)) return void this.#giveUp(problem);
    if (kind === 'lost') this.#reconnects += 1;
    this.#recovering = true;
    this.#ready = false;
    this.#configureEventId = undefined;
    this.#rollover.stop();
    this.#responses.pause();
    this.#recoveredFrom = { problem, kind };
    // The old session's items are unknown to the next one: nothing of theirs is truncated
    // later, no late delta of theirs is played, and nobody waits for their marks.
    if (!this.#playback.playedOut) {
      this.#playback.interrupt();
      this.#playbackDone();
    }
    // The old session would have sent these transcripts; the caller's turns stay, inaudible.
    const at = new Date().toISOString();
    for (const { itemId, turn } of this.#transcript.abandonAwaited(at)) {
      this.#deps.metrics.increment('openai_transcription_failed_total');
      this.#publish({ type: 'transcript.turn', callId: context.callId, itemId, turn });
    }
    const previous = this.#openai;
    const socket = this.#useOpenAI(this.#deps.openRealtime(context.callSid), () => {
      if (this.#state === 'live') this.#configure(socket, context);
    });
    this.#openai = socket;
    if (previous) closeSocket(previous, 1000, 'replaced');
    this.#watchConnect(socket, () => {
      if (this.#recovering) this.#giveUp(`${problem}; the reconnect timed out`);
    });
  }

  /**
   * The reconnected session is configured: it learns the conversation so far and what the
   * agent added meanwhile; after a lost session, ONE response apologises and does what was
   * waiting (a reprompt, a goodbye, the tools' answer); after an expiry what waited is asked
   * for as it was. Buffered caller audio follows.
   */
  #resumed(): void {
    const context = this.#context;
    const socket = this.#openai;
    const from = this.#recoveredFrom;
    if (!context || !socket || !from) return;
    for (const event of restoredConversation(this.#transcript.snapshot(), this.#timeline)) socket.send(JSON.stringify(event));
    for (const event of this.#held.takeForResumedSession()) socket.send(JSON.stringify(event));
    if (from.kind === 'lost') {
      const waiting = this.#responses.takeWaiting();
      const last = waiting.findLast((request) => request.directive !== undefined);
      const done = waiting.map((request) => request.done).filter((callback) => callback !== undefined);
      this.#responses.request({
        reason: waiting.some((request) => request.reason === 'goodbye') ? 'goodbye' : 'resume',
        directive: apologyDirective(context, last?.reason === 'resume' ? undefined : last?.directive),
        done: done.length > 0 ? (status) => done.forEach((callback) => callback(status)) : undefined,
      });
    }
    this.#recovering = false;
    this.#recoveredFrom = undefined;
    this.#ready = true;
    this.#responses.resume();
    for (const payload of this.#pending.splice(0)) socket.send(appendAudioMessage(payload));
    if (from.kind === 'lost') this.#publish({ type: 'agent.failure', callId: context.callId, problem: from.problem, recovered: true, at: new Date().toISOString() });
    this.#rollover.schedule();
  }

  /**
   * Nothing is going on that a change of session would cut: no response active or waiting,
   * the agent's audio played out, the caller not speaking, no caller transcript still on its
   * way (it comes asynchronously, on the session that heard the words; one older than 10 s
   * is not waited for).
   */
  #quiet(): boolean {
    return !this.#responses.busy && !this.#agentAudioPending() && !this.#callerSpeaking && !this.#transcript.awaitingCaller(Date.now(), 10_000);
  }

  /** The next session is configured (SessionRollover): it takes the conversation, and the call moves over to it. */
  #moveTo(socket: WebSocket, eventId: string): void {
    for (const event of restoredConversation(this.#transcript.snapshot(), this.#timeline)) socket.send(JSON.stringify(event));
    const previous = this.#openai;
    this.#responses.pause();
    this.#useOpenAI({ socket }, () => {});
    this.#openai = socket;
    this.#configureEventId = eventId;
    this.#openaiAnswered = true;
    this.#rollovers += 1;
    this.#deps.metrics.increment('realtime_session_rollovers_total');
    if (previous) closeSocket(previous, 1000, 'rolled over');
    this.#responses.resume();
    this.#log.info({ rollovers: this.#rollovers }, 'the call moved to a new OpenAI session');
    this.#rollover.schedule();
  }

  /**
   * The call's OpenAI session never came up — refused (a retired or unknown model, a bad
   * key) or not there in time — so there is no agent: the call is given up like one whose
   * agent was lost. Without the call's context yet, acted on once it has loaded.
   */
  #neverCameUp(problem: string): void {
    const context = this.#context;
    if (!context) {
      this.#lostBeforeLive ??= problem;
      return;
    }
    if (this.#givenUp) return;
    this.#deps.metrics.increment('realtime_session_failed_total');
    this.#log.error({ problem }, 'the OpenAI session never came up');
    this.#publish({ type: 'agent.failure', callId: context.callId, problem, recovered: false, at: new Date().toISOString() });
    this.#giveUp(problem);
  }

  /** The voice agent is lost: the caller reaches a person or hears an apology, and the call is failed. */
  #giveUp(problem: string): void {
    const context = this.#context;
    if (!context || this.#givenUp || (this.#state !== 'live' && this.#state !== 'starting')) return;
    this.#givenUp = true;
    this.#recovering = false;
    this.#failed = true;
    // The agent says nothing more: no reprompt or goodbye may race the hand-over, and
    // nothing more comes from OpenAI (an event that broke a handler once would again).
    this.#agent?.stop();
    this.#responses.close();
    this.#ready = false;
    clearTimeout(this.#connectTimer);
    if (this.#openai) closeSocket(this.#openai, 1000, 'call given up');
    const control = this.#deps.agent.callControl;
    const ending = { reason: `voice agent unavailable: ${problem}`, failed: true };
    void this.endThrough(ending.reason, async () => {
      try {
        const to = control ? await handOverOrApologise(control, context) : null;
        if (to) this.#publish({ type: 'call.transfer', callId: context.callId, to, reason: 'voice agent unavailable', ok: true, error: null, at: new Date().toISOString() });
      } catch (error) {
        this.#log.error({ err: describeError(error) }, 'cannot hand the call over after losing the voice agent');
      }
      return ending;
    });
  }

  #onRealtimeMessage(data: RawData): void {
    const receivedAt = performance.now();
    const parsed = parseServerEvent(data.toString());
    if (parsed.kind === 'invalid') return this.#deps.metrics.increment('openai_invalid_event_total');
    if (parsed.kind === 'unhandled') return this.#deps.metrics.incrementLabeled('openai_unhandled_event_total', parsed.type);
    if (parsed.kind === 'ignored') return;
    const event = parsed.event;
    // Until the session has answered anything but errors it has not come up: OpenAI's error
    // (a refused model, say) is why it will close.
    if (event.type !== 'error') {
      if (!this.#openaiAnswered) clearTimeout(this.#connectTimer);
      this.#openaiAnswered = true;
    } else if (!this.#openaiAnswered) this.#openaiProblem = `OpenAI error: ${event.error.message}`;
    const context = this.#context;
    if (!context || this.#state === 'ended') return;
    const callId = context.callId;
    // The hot path (audio deltas) needs no timestamp; the other events take one here.
    const now = event.type === 'response.output_audio.delta' ? '' : new Date().toISOString();
    switch (event.type) {
      case 'response.output_audio.delta': {
        // Not forwarded: a late delta of a response the caller interrupted (OpenAI sends a few after the cancel).
        const ms = base64Bytes(event.delta) / 8;
        const chunk = this.#playback.chunk(event.response_id, event.item_id, ms);
        if (!chunk.forward) return;
        this.#twilio.send(twilioMediaMessage(this.#streamSidJson, event.delta));
        this.#meter.agentAudio(event.response_id, ms, receivedAt);
        this.#deps.metrics.increment('frames_to_twilio_total');
        if (chunk.markAfter) this.#twilio.send(twilioMarkMessage(this.#streamSidJson, chunk.markAfter));
        if (this.#supervision?.listening) this.#publishAudio('agent', event.delta);
        if (chunk.startsItem) {
          // A new agent item: its turn starts now (once per item, not per delta).
          this.#transcript.agent(event.item_id, new Date().toISOString());
          this.#agent?.agentStarted();
        }
        return;
      }
      case 'response.output_audio.done': {
        const mark = this.#playback.itemDone(event.item_id);
        if (mark) this.#twilio.send(twilioMarkMessage(this.#streamSidJson, mark));
        return;
      }
      case 'response.output_audio_transcript.delta':
        this.#transcript.agent(event.item_id, now).text += event.delta;
        return this.#publish({ type: 'transcript.delta', callId, speaker: 'agent', itemId: event.item_id, delta: event.delta, at: now });
      case 'response.output_audio_transcript.done': {
        const turn = this.#transcript.agentDone(event.item_id, event.transcript, now);
        return this.#publish({ type: 'transcript.turn', callId, itemId: event.item_id, turn });
      }
      case 'session.updated':
        return this.#configured(event);
      case 'response.created':
        this.#meter.responseCreated(event.response.id);
        return this.#responses.created(event.response);
      case 'response.done':
        this.#meter.responseDone(event.response.id, event.response.usage);
        // The tools first: their one response for all outputs waits in the queue, which the done then lets go.
        this.#agent?.responseDone(event.response);
        this.#responses.done(event.response);
        return this.#rollover.maybeNow();
      case 'rate_limits.updated':
        return this.#responses.rateLimits(event.rate_limits ?? [], performance.now());
      case 'input_audio_buffer.speech_started':
        this.#callerSpeaking = true;
        this.#transcript.callerStarted(event.item_id, now);
        this.#meter.speechStarted(this.#bargeIn(callId, now));
        this.#agent?.callerStarted();
        return this.#publish({ type: 'speech.started', callId, at: now });
      case 'input_audio_buffer.speech_stopped':
        this.#callerSpeaking = false;
        this.#meter.speechStopped(event.audio_end_ms);
        this.#agent?.callerStopped();
        return this.#publish({ type: 'speech.stopped', callId, at: now });
      case 'conversation.item.input_audio_transcription.delta':
        return this.#publish({ type: 'transcript.delta', callId, speaker: 'caller', itemId: event.item_id, delta: event.delta ?? '', at: now });
      case 'conversation.item.input_audio_transcription.completed': {
        const turn = this.#transcript.callerDone(event.item_id, event.transcript, now);
        this.#publish({ type: 'transcript.turn', callId, itemId: event.item_id, turn });
        return this.#rollover.maybeNow();
      }
      case 'conversation.item.input_audio_transcription.failed': {
        this.#deps.metrics.increment('openai_transcription_failed_total');
        this.#log.warn({ code: event.error.code, errorType: event.error.type }, 'caller transcription failed');
        this.#callerInaudible(event.item_id, now);
        return this.#rollover.maybeNow();
      }
      case 'error':
        return this.#onError(event.error);
      default:
        return;
    }
  }

  /**
   * An `error` event. Most leave the session open (the SDK: "Most errors are recoverable
   * and the session will stay open"), so none is a reason to reconnect — a closed socket
   * is. A refused session.update leaves the session without μ-law: the agent is lost. A
   * refused response.create is the response queue's (it waits or retries); a failed
   * response is reported by its `response.done`.
   */
  #onError(error: { type: string; code?: string | null; message: string; event_id?: string | null }): void {
    this.#deps.metrics.increment('openai_error_event_total');
    this.#deps.metrics.incrementLabeled('openai_error_event_by_code_total', error.code ?? error.type);
    this.#log.warn({ code: error.code, errorType: error.type }, 'openai error event');
    // OpenAI's cap (60 minutes) reached before a rollover: the close that follows is an expiry.
    if (error.code === 'session_expired') this.#sessionExpired = true;
    if (this.#configureEventId && error.event_id === this.#configureEventId && !this.#ready) {
      return this.#configurationRefused(`OpenAI refused the session configuration: ${error.message}`);
    }
    this.#responses.refused(error);
  }

  /** A caller turn whose words will not come (transcription failed, or its session is gone): kept, marked inaudible. */
  #callerInaudible(itemId: string, at: string): void {
    const context = this.#context;
    if (!context) return;
    const turn = this.#transcript.callerInaudible(itemId, at);
    this.#publish({ type: 'transcript.turn', callId: context.callId, itemId, turn });
  }

  /** The model cannot answer (retries spent): the call is handed over or apologised for, and failed. */
  #agentLost(problem: string): void {
    const context = this.#context;
    if (!context || this.#givenUp) return;
    this.#publish({ type: 'agent.failure', callId: context.callId, problem, recovered: false, at: new Date().toISOString() });
    this.#giveUp(problem);
  }

  /**
   * The caller started talking over the agent: stop playback, drop the rest of the
   * interrupted responses' audio, and tell OpenAI what was heard of every item cut short
   * (an item still queued behind the one playing was heard not at all). True when it cut
   * the agent's audio short.
   */
  #bargeIn(callId: string, at: string): boolean {
    const { items } = this.#playback.interrupt(this.#responses.activeId);
    if (items.length === 0) return false;
    this.#twilio.send(twilioClearMessage(this.#streamSidJson));
    const openai = this.#ready && this.#openai && isOpen(this.#openai) ? this.#openai : undefined;
    for (const { itemId, heardMs, sentMs } of items) {
      openai?.send(JSON.stringify(truncateEvent(itemId, heardMs)));
      this.#transcript.interrupted(itemId, heardMs, sentMs);
      this.#publish({ type: 'agent.interrupted', callId, itemId, heardMs, at });
    }
    // What was queued will not play: nothing waits for it any longer, and the agent is silent.
    this.#wakePlayedOut();
    this.#agent?.agentStopped();
    return true;
  }

  #publish(event: CallEvent | AgentEvent): void {
    if (timelineEventTypes.has(event.type)) this.#timeline.push(event);
    this.#trace?.event(event);
    this.#deps.bus.publish('call:events', event.callId, event);
  }

  #publishLifecycle(event: Extract<CallEvent, { type: 'call.started' | 'call.ended' }>): void {
    this.#publish(event);
    if (this.#context) this.#deps.bus.publish('business:calls', this.#context.business.id, event);
  }
}

/** Decoded size of a base64 string, without decoding it. */
function base64Bytes(value: string): number {
  const padding = value.endsWith('==') ? 2 : value.endsWith('=') ? 1 : 0;
  return (value.length / 4) * 3 - padding;
}

/** After a rollover that could not happen (the next session failed, or the call got busy), how long until it is tried again. */
const rolloverRetryMs = 5000;

/** How long the media stream's peer has to answer our close before its socket is destroyed. */
const twilioCloseGraceMs = 1000;

/**
 * Closes the media stream, and destroys it if the peer has not answered the close in
 * time: a peer that ignores it (not Twilio) would otherwise hold its socket, and a place
 * under MEDIA_MAX_SOCKETS, for `ws`'s 30 s close timeout.
 */
function closeTwilio(socket: WebSocket, code: number, reason: string): void {
  closeSocket(socket, code, reason);
  if (socket.readyState === socket.CLOSED) return;
  const timer = setTimeout(() => socket.terminate(), twilioCloseGraceMs);
  socket.once('close', () => clearTimeout(timer));
}

function isOpen(socket: WebSocket): boolean {
  return socket.readyState === socket.OPEN;
}

function closeSocket(socket: WebSocket, code: number, reason: string): void {
  if (socket.readyState === socket.CONNECTING) return socket.terminate();
  if (socket.readyState === socket.OPEN) socket.close(code, reason);
}
