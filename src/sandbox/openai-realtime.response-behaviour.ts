import type { RateLimitsUpdatedEvent, RealtimeResponseStatus } from 'openai/resources/realtime/realtime';
import { openaiId } from './ids.ts';
import type { QueuedReply, ScriptedFailure, ScriptQueue } from './openai-realtime.script.ts';

/** Time between a function call's argument deltas at 'realtime' pace. */
export const DELTA_INTERVAL_MS = 100;

/**
 * 'realtime': audio in faster-than-real-time bursts (see AudioBurst), 100 ms between a
 * function call's argument deltas; 'instant': as fast as the socket takes them, each delta
 * in its own macrotask. Either way a response's `response.done` comes in a later macrotask
 * than its last delta (see ResponseTiming).
 */
export type Pace = 'realtime' | 'instant';

/** At 'realtime' pace, model audio comes `deltas` 100 ms deltas at a time, a burst every `intervalMs`. */
export interface AudioBurst {
  deltas: number;
  intervalMs: number;
}

/** 300 ms of audio every 120 ms: 2.5× real time, as OpenAI's audio outruns playback. */
export const REALTIME_AUDIO_BURST: AudioBurst = { deltas: 3, intervalMs: 120 };

/** The timing a session's responses follow; the session may change it between responses (read at each wait). */
export interface ResponseTiming {
  /** From the last output event (or a failure's `response.created`) to `response.done`; 0 still waits a macrotask. */
  responseDoneGapMs: number;
  audioBurst: AudioBurst;
  /** Audio deltas (and their transcript) of a cancelled response still sent after the cancel. */
  lateDeltasAfterCancel: number;
  /** From `response.created` to the response's first output item (a spoken one's first audio delta follows at once); 0: at once. */
  firstAudioDelayMs: number;
}

/** How a stand-in's responses behave; every field has a realistic default (see the README). */
export interface ResponseBehaviourOptions {
  /** Gap before `response.done` (see ResponseTiming); default 40 ms at 'realtime', 1 ms at 'instant'. */
  responseDoneGapMs?: number;
  /** Audio bursts at 'realtime' pace; default REALTIME_AUDIO_BURST. `{ deltas: 1, intervalMs: 100 }` is real time. */
  audioBurst?: AudioBurst;
  /** Late audio deltas after a cancel; default 2. */
  lateDeltasAfterCancel?: number;
  /** OpenAI's time to first audio (see ResponseTiming); default 0. */
  firstAudioDelayMs?: number;
  /** Answer every accepted `function_call_output` with a response of the server's own; default false. */
  autoRespondToToolOutput?: boolean;
}

/** The timing of `options`, with the defaults of `pace` for what it leaves out. */
export function responseTiming(pace: Pace, options: ResponseBehaviourOptions = {}): ResponseTiming {
  return {
    responseDoneGapMs: options.responseDoneGapMs ?? (pace === 'realtime' ? 40 : 1),
    audioBurst: options.audioBurst ?? REALTIME_AUDIO_BURST,
    lateDeltasAfterCancel: options.lateDeltasAfterCancel ?? 2,
    firstAudioDelayMs: options.firstAudioDelayMs ?? 0,
  };
}

/**
 * The `status_details.error` of a failed response, with a rate limit's defaults: OpenAI's
 * 429 body (`type` 'tokens', `code` 'rate_limit_exceeded', a message saying when to try
 * again); any other code defaults to a `server_error` and OpenAI's message for it.
 */
export function responseFailure(failure: ScriptedFailure, model: string): { error: RealtimeResponseStatus.Error; resetSeconds: number } {
  const resetSeconds = failure.resetSeconds ?? 1.2;
  const code = failure.code ?? 'rate_limit_exceeded';
  const rateLimited = code === 'rate_limit_exceeded';
  const message = rateLimited
    ? `Rate limit reached for ${model} in organization org-standin on tokens per min (TPM): Limit 40000, Used 39120, Requested 1650. Please try again in ${resetSeconds}s. Visit https://platform.openai.com/account/rate-limits to learn more.`
    : 'The server had an error while processing your request. Sorry about that! We recommend you retry your request.';
  return { error: { type: failure.type ?? (rateLimited ? 'tokens' : 'server_error'), code, message: failure.message ?? message }, resetSeconds };
}

/** The `rate_limits.updated` that precedes a rate-limited failure: no tokens left until the reset. */
export function rateLimitsReached(resetSeconds: number): RateLimitsUpdatedEvent {
  return {
    type: 'rate_limits.updated',
    event_id: openaiId('event'),
    rate_limits: [
      { name: 'requests', limit: 5_000, remaining: 4_999, reset_seconds: 0.012 },
      { name: 'tokens', limit: 40_000, remaining: 0, reset_seconds: resetSeconds },
    ],
  };
}

/**
 * How a session's responses behave, as the stand-in's options and a test's calls steer
 * them: their timing, and the one-off behaviours a test asks for (a race, an answer to a
 * tool output, a failure). Each one-off applies to the next response it fits, then clears.
 */
export class ResponseSteering {
  /** Shared with each response, which reads it at each wait. */
  readonly timing: ResponseTiming;
  #autoRespondToToolOutput: boolean;
  #autoRespondToNextToolOutput = false;
  #raceNextResponseCreate = false;
  #failNextResponse: ScriptedFailure | undefined;

  constructor(pace: Pace, options: ResponseBehaviourOptions = {}) {
    this.timing = responseTiming(pace, options);
    this.#autoRespondToToolOutput = options.autoRespondToToolOutput ?? false;
  }

  /** See StandInSession.delayResponseDone. */
  delayResponseDone(ms: number): void {
    this.timing.responseDoneGapMs = ms;
  }

  /** See StandInSession.delayFirstAudio. */
  delayFirstAudio(ms: number): void {
    this.timing.firstAudioDelayMs = ms;
  }

  /** See StandInSession.raceNextResponseCreate. */
  raceNextResponseCreate(): void {
    this.#raceNextResponseCreate = true;
  }

  /** See StandInSession.autoRespondToNextToolOutput. */
  autoRespondToNextToolOutput(): void {
    this.#autoRespondToNextToolOutput = true;
  }

  /** See StandInSession.failNextResponse. */
  failNextResponse(failure: ScriptedFailure): void {
    this.#failNextResponse = failure;
  }

  /** True when a client `response.create` that would start a response must find one started by the server. */
  takeRace(): boolean {
    const race = this.#raceNextResponseCreate;
    this.#raceNextResponseCreate = false;
    return race;
  }

  /** True when an accepted `function_call_output`, with no response active, gets the server's own response. */
  takeAutoRespond(): boolean {
    const respond = this.#autoRespondToToolOutput || this.#autoRespondToNextToolOutput;
    this.#autoRespondToNextToolOutput = false;
    return respond;
  }

  /** What the next response plays: the failure asked for (the script keeps its reply), or the script's next reply. */
  nextReply(script: ScriptQueue): QueuedReply {
    const failure = this.#failNextResponse;
    this.#failNextResponse = undefined;
    return failure ? { output: [], fail: failure } : script.nextReply();
  }
}
