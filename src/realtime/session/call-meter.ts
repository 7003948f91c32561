import { performance } from 'node:perf_hooks';
import {
  addRealtimeUsage,
  callUsageAtEnd,
  emptyRealtimeTokens,
  maxStoredTurns,
  percentile,
  type CallLatency,
  type CallUsage,
  type RealtimeResponseUsageView,
} from '../../core/call-usage.ts';
import type { HistogramName } from '../../core/metrics.ts';
import type { PriceTable } from '../../core/prices.ts';

/**
 * The first agent audio of a response, in its parts: what the greeting and every turn end
 * with. Times in ms of the meter's clock (`performance.now()` unless the meter was given another).
 */
export interface FirstAudioParts {
  /** When the response's first audio frame went to Twilio. */
  firstAudioAt: number;
  /** OpenAI's share: its `response.created` reaching Callwatch → its first audio delta reaching Callwatch; undefined when that `response.created` was not seen. */
  openaiFirstAudioMs: number | undefined;
  /** Callwatch's share: that first delta reaching Callwatch → its frame sent to Twilio. */
  callwatchMs: number;
  /** The response that spoke. */
  responseId: string;
}

/** The greeting, as the meter saw it (`onGreeting`). */
export interface MeteredGreeting extends FirstAudioParts {
  /** When the media stream's verified `start` came. */
  streamStartedAt: number;
  /** firstAudioAt − streamStartedAt. */
  latencyMs: number;
}

/** One caller turn the agent answered, as the meter saw it (`onTurn`). */
export interface MeteredTurn extends FirstAudioParts {
  /** 1-based, in the call's order. */
  index: number;
  /** When OpenAI's `input_audio_buffer.speech_stopped` arrived. */
  speechStoppedAt: number;
  /** OpenAI's `audio_end_ms`: where in the caller's audio (since the session began) the speech ended. */
  audioEndMs: number;
  /** firstAudioAt − speechStoppedAt: what `call_turn_latency_seconds` and `Call.latency.turnMs` hold. */
  latencyMs: number;
  /** The caller talked over the answer (a barge-in before they next spoke on their own). */
  interrupted: boolean;
}

export interface CallMeterOptions {
  /** Records a histogram observation (Metrics.observe), in seconds. */
  observe: (name: HistogramName, seconds: number) => void;
  /** Called when the greeting's first audio is sent: the call trace's greeting span. */
  onGreeting?: (greeting: MeteredGreeting) => void;
  /**
   * Called for each turn once it is settled — when the caller next speaks (whether over the
   * answer or not), or at `ended()` — so it knows whether the answer was interrupted: the
   * call trace's turn spans. Its latency was observed when its first audio went out.
   */
  onTurn?: (turn: MeteredTurn) => void;
  /** A monotonic clock in ms. Default `performance.now`. */
  now?: () => number;
}

/** Bytes of μ-law audio a second (8 kHz, one byte a sample). */
const mulawBytesPerSec = 8000;

/**
 * How long the caller waited and what the call used, measured from the events the call
 * session sees (pure: no sockets, no timers; the session calls one method per event and
 * `latency()`/`usage()` at the end, which is when the numbers are written — never mid-call).
 *
 * - Greeting: the media stream's `start` → the first agent audio frame sent to Twilio.
 * - A turn: OpenAI's `speech_stopped` → the first agent audio frame sent after it (tools
 *   the agent ran meanwhile are part of the wait the caller felt). The caller speaking
 *   again before the answer starts the turn over (`speech_started` drops it, the next
 *   `speech_stopped` starts it again): VAD cancelled that answer, and the wait counts from
 *   when they last stopped. Audio that is the greeting is never a turn.
 * - OpenAI's share, per response: its `response.created` → its first audio delta, both as
 *   they reach Callwatch; Callwatch's share: that delta reaching it → its frame sent to Twilio.
 * - Interruptions: barge-ins that cut the agent's audio short.
 *
 * It is the one source of these timings: the histograms, `Call.latency` and the call
 * trace's greeting and turn spans (`onGreeting`, `onTurn`) all take the same numbers.
 *
 * The audio path calls `callerAudio` and `agentAudio` per frame; both only add numbers.
 */
export class CallMeter {
  readonly #options: CallMeterOptions;
  readonly #now: () => number;
  #streamStartedAt: number | undefined;
  #greetingMs: number | null = null;
  /** The caller's last `speech_stopped` not yet answered. */
  #waiting: { at: number; audioEndMs: number } | undefined;
  /** The last turn answered, until it is known whether its answer was interrupted. */
  #answered: Omit<MeteredTurn, 'interrupted'> | undefined;
  /** `response.created` arrival times of responses whose first audio has not come yet. */
  readonly #created = new Map<string, number>();
  /** The response whose audio was last forwarded: only a new one's first frame is looked at. */
  #lastResponseId = '';
  readonly #turnMs: number[] = [];
  #turns = 0;
  #turnMax = 0;
  readonly #firstAudioMs: number[] = [];
  #interruptions = 0;
  readonly #tokens = emptyRealtimeTokens();
  /** Bytes of caller audio relayed. */
  #callerBytes = 0;
  #agentAudioMs = 0;

  constructor(options: CallMeterOptions) {
    this.#options = options;
    this.#now = options.now ?? performance.now.bind(performance);
  }

  /** The media stream's verified `start`. */
  streamStarted(): void {
    this.#streamStartedAt ??= this.#now();
  }

  /** A caller frame (base64 μ-law) relayed to OpenAI, or held for it. */
  callerAudio(payload: string): void {
    // Its decoded size, without decoding it: three bytes per four characters, less the padding.
    this.#callerBytes += (payload.length / 4) * 3 - (payload.endsWith('==') ? 2 : payload.endsWith('=') ? 1 : 0);
  }

  /** `response.created`. */
  responseCreated(responseId: string): void {
    this.#created.set(responseId, this.#now());
  }

  /**
   * `input_audio_buffer.speech_started`; `bargedIn`: the session cut the agent's audio short
   * for it (an interruption, and the last answered turn's answer was interrupted). An
   * answer not yet begun will not be the one to this turn.
   */
  speechStarted(bargedIn: boolean): void {
    if (bargedIn) this.#interruptions += 1;
    this.#settle(bargedIn);
    this.#waiting = undefined;
  }

  /** `input_audio_buffer.speech_stopped`: the caller finished a turn; the agent's answer is awaited. */
  speechStopped(audioEndMs: number): void {
    this.#settle(false);
    this.#waiting = { at: this.#now(), audioEndMs };
  }

  /**
   * `ms` of agent audio of `responseId` sent to Twilio; its delta reached Callwatch at
   * `receivedAt` (the meter's clock). Call it once the frame is sent.
   */
  agentAudio(responseId: string, ms: number, receivedAt = this.#now()): void {
    this.#agentAudioMs += ms;
    if (responseId === this.#lastResponseId) return;
    this.#lastResponseId = responseId;
    this.#firstAudio(responseId, receivedAt);
  }

  /** The call is over: its last turn is settled (not interrupted). */
  ended(): void {
    this.#settle(false);
  }

  /** `response.done`: its usage, when OpenAI reported one. */
  responseDone(responseId: string, usage: RealtimeResponseUsageView | undefined): void {
    this.#created.delete(responseId);
    if (usage) addRealtimeUsage(this.#tokens, usage);
  }

  /** A new response's first frame (its delta received at `receivedAt`) went to Twilio. */
  #firstAudio(responseId: string, receivedAt: number): void {
    const now = this.#now();
    const createdAt = this.#created.get(responseId);
    this.#created.delete(responseId);
    const parts: FirstAudioParts = { firstAudioAt: now, openaiFirstAudioMs: createdAt === undefined ? undefined : receivedAt - createdAt, callwatchMs: now - receivedAt, responseId };
    if (parts.openaiFirstAudioMs !== undefined) {
      this.#firstAudioMs.push(parts.openaiFirstAudioMs);
      this.#options.observe('openai_time_to_first_audio_seconds', parts.openaiFirstAudioMs / 1000);
    }
    if (this.#greetingMs === null) {
      const streamStartedAt = this.#streamStartedAt ?? now;
      this.#greetingMs = now - streamStartedAt;
      this.#options.observe('call_greeting_latency_seconds', this.#greetingMs / 1000);
      this.#options.onGreeting?.({ ...parts, streamStartedAt, latencyMs: this.#greetingMs });
      this.#waiting = undefined;
      return;
    }
    const waiting = this.#waiting;
    if (!waiting) return;
    this.#waiting = undefined;
    const latencyMs = now - waiting.at;
    this.#turns += 1;
    this.#turnMax = Math.max(this.#turnMax, latencyMs);
    if (this.#turnMs.length < maxStoredTurns) this.#turnMs.push(latencyMs);
    this.#options.observe('call_turn_latency_seconds', latencyMs / 1000);
    this.#answered = { ...parts, index: this.#turns, speechStoppedAt: waiting.at, audioEndMs: waiting.audioEndMs, latencyMs };
  }

  /** The last answered turn is over: reported (`onTurn`) with whether its answer was `interrupted`. */
  #settle(interrupted: boolean): void {
    const answered = this.#answered;
    if (!answered) return;
    this.#answered = undefined;
    this.#options.onTurn?.({ ...answered, interrupted });
  }

  /** The call's latency so far (whole ms). */
  latency(): CallLatency {
    const turnMs = this.#turnMs.map(Math.round);
    return {
      greetingMs: this.#greetingMs === null ? null : Math.round(this.#greetingMs),
      turns: this.#turns,
      turnP50Ms: roundOrNull(percentile(this.#turnMs, 0.5)),
      turnP95Ms: roundOrNull(percentile(this.#turnMs, 0.95)),
      turnMaxMs: this.#turns > 0 ? Math.round(this.#turnMax) : null,
      openaiFirstAudioP50Ms: roundOrNull(percentile(this.#firstAudioMs, 0.5)),
      openaiFirstAudioP95Ms: roundOrNull(percentile(this.#firstAudioMs, 0.95)),
      interruptions: this.#interruptions,
      turnMs,
    };
  }

  /** The call's usage so far, its cost from `prices` for the Realtime model `realtimeModel`. */
  usage(realtimeModel: string, prices: PriceTable): CallUsage {
    return callUsageAtEnd(this.#tokens, { inputSec: this.#callerBytes / mulawBytesPerSec, outputSec: this.#agentAudioMs / 1000 }, realtimeModel, prices);
  }
}

function roundOrNull(value: number | null): number | null {
  return value === null ? null : Math.round(value);
}
