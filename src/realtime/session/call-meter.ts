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

/** One caller turn the agent answered, as the meter saw it (`onTurn`). Times in ms of the meter's clock. */
export interface MeteredTurn {
  /** 1-based, in the call's order. */
  index: number;
  /** When OpenAI's `input_audio_buffer.speech_stopped` arrived. */
  speechStoppedAt: number;
  /** OpenAI's `audio_end_ms`: where in the caller's audio (since the session began) the speech ended. */
  audioEndMs: number;
  /** When the answer's first audio frame went to Twilio. */
  firstAudioAt: number;
  /** firstAudioAt − speechStoppedAt. */
  latencyMs: number;
  /** The response that answered. */
  responseId: string;
  /** That response's `response.created` → first audio delta (OpenAI's share), when its `response.created` was seen. */
  openaiFirstAudioMs: number | undefined;
}

export interface CallMeterOptions {
  /** Records a histogram observation (Metrics.observe), in seconds. */
  observe: (name: HistogramName, seconds: number) => void;
  /** Called for each turn once its answer's first audio is sent: the tracing's per-turn span hooks in here. */
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
 * - OpenAI's share, per response: `response.created` → its first audio delta.
 * - Interruptions: barge-ins that cut the agent's audio short.
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

  /** `input_audio_buffer.speech_started`: an answer not yet begun will not be the one to this turn. */
  speechStarted(): void {
    this.#waiting = undefined;
  }

  /** `input_audio_buffer.speech_stopped`: the caller finished a turn; the agent's answer is awaited. */
  speechStopped(audioEndMs: number): void {
    this.#waiting = { at: this.#now(), audioEndMs };
  }

  /** The caller barged in on the agent's audio (the session cut it short). */
  interrupted(): void {
    this.#interruptions += 1;
  }

  /** `ms` of agent audio of `responseId` sent to Twilio. */
  agentAudio(responseId: string, ms: number): void {
    this.#agentAudioMs += ms;
    if (responseId === this.#lastResponseId) return;
    this.#lastResponseId = responseId;
    this.#firstAudio(responseId);
  }

  /** `response.done`: its usage, when OpenAI reported one. */
  responseDone(responseId: string, usage: RealtimeResponseUsageView | undefined): void {
    this.#created.delete(responseId);
    if (usage) addRealtimeUsage(this.#tokens, usage);
  }

  /** A new response's first frame went to Twilio. */
  #firstAudio(responseId: string): void {
    const now = this.#now();
    const createdAt = this.#created.get(responseId);
    this.#created.delete(responseId);
    const openaiFirstAudioMs = createdAt === undefined ? undefined : now - createdAt;
    if (openaiFirstAudioMs !== undefined) {
      this.#firstAudioMs.push(openaiFirstAudioMs);
      this.#options.observe('openai_time_to_first_audio_seconds', openaiFirstAudioMs / 1000);
    }
    if (this.#greetingMs === null) {
      this.#greetingMs = now - (this.#streamStartedAt ?? now);
      this.#options.observe('call_greeting_latency_seconds', this.#greetingMs / 1000);
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
    this.#options.onTurn?.({
      index: this.#turns,
      speechStoppedAt: waiting.at,
      audioEndMs: waiting.audioEndMs,
      firstAudioAt: now,
      latencyMs,
      responseId,
      openaiFirstAudioMs,
    });
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
