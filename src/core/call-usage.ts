import { pricesAsOf, type PriceTable } from './prices.ts';

/**
 * What a call cost in time and money, as stored on the call (`calls.latency`,
 * `calls.usage`, jsonb), shown by GraphQL (`Call.latency`, `Call.usage`) and sent in the
 * `call.completed` webhook. The call session measures both (realtime/session/call-meter.ts)
 * and writes them with the call's end; the post-call pipeline adds its own usage when it
 * finishes (`addPipelineUsage`).
 */

/** Most turn latencies a call keeps, in order; its percentiles are over these (`turns` and `turnMaxMs` count every turn). */
export const maxStoredTurns = 500;

/** How long the caller waited for the agent. Times in whole milliseconds. */
export interface CallLatency {
  /** Media stream `start` → the first agent audio frame sent to Twilio; null when the agent never spoke. */
  greetingMs: number | null;
  /** Caller turns the agent answered with audio. */
  turns: number;
  /** Median turn latency: caller's speech stopped (OpenAI's VAD) → first agent audio frame sent to Twilio. Null without turns. */
  turnP50Ms: number | null;
  turnP95Ms: number | null;
  turnMaxMs: number | null;
  /** OpenAI's own share: `response.created` → the response's first audio delta, median over the call's responses with audio. */
  openaiFirstAudioP50Ms: number | null;
  openaiFirstAudioP95Ms: number | null;
  /** Times the caller started speaking while the agent's audio was playing (barge-in). */
  interruptions: number;
  /** Each turn's latency, in order (the first `maxStoredTurns`). */
  turnMs: number[];
}

/** Token counts OpenAI reported for the call's Realtime responses (`response.done` `usage`), summed. */
export interface RealtimeTokens {
  inputTokens: number;
  outputTokens: number;
  inputAudioTokens: number;
  inputTextTokens: number;
  /** Of the input tokens, those read from the prompt cache (audio and text). */
  inputCachedAudioTokens: number;
  inputCachedTextTokens: number;
  outputAudioTokens: number;
  outputTextTokens: number;
}

/** What the post-call pipeline used: the recording's transcription and the text model's tokens (summary, extraction). */
export interface PipelineUsage {
  /** Seconds of recording sent to transcription. */
  transcriptionSec: number;
  textInputTokens: number;
  textOutputTokens: number;
}

/** What a call used of OpenAI and how much audio went each way, with the cost estimated from the price table. */
export interface CallUsage {
  realtimeInputTokens: number;
  realtimeOutputTokens: number;
  /** The Realtime tokens by kind, as OpenAI reported them. */
  realtimeTokens: RealtimeTokens;
  /** Caller audio relayed to OpenAI, in seconds. */
  audioInputSec: number;
  /** Agent audio sent to Twilio, in seconds. */
  audioOutputSec: number;
  /** Recording seconds the pipeline transcribed; null until it has (or when there was no recording). */
  transcriptionSec: number | null;
  /** The pipeline's text-model tokens (input + output); null until it has run. */
  textTokens: number | null;
  textInputTokens: number | null;
  textOutputTokens: number | null;
  /** The Realtime session's cost (tokens × the realtime model's prices). */
  realtimeCostUsd: number;
  /** The pipeline's cost (transcription minutes and text tokens); null until it has run. */
  pipelineCostUsd: number | null;
  /** realtimeCostUsd + pipelineCostUsd, rounded to 1/10 000 of a dollar. */
  estimatedCostUsd: number;
  /** The date of the price table used (core/prices.ts, or OPENAI_PRICES). */
  pricesAsOf: string;
}

/** No tokens yet. */
export function emptyRealtimeTokens(): RealtimeTokens {
  return { inputTokens: 0, outputTokens: 0, inputAudioTokens: 0, inputTextTokens: 0, inputCachedAudioTokens: 0, inputCachedTextTokens: 0, outputAudioTokens: 0, outputTextTokens: 0 };
}

/** The `usage` of one Realtime `response.done` (the SDK's RealtimeResponseUsage, the fields read). */
export interface RealtimeResponseUsageView {
  input_tokens?: number;
  output_tokens?: number;
  input_token_details?: {
    audio_tokens?: number;
    text_tokens?: number;
    cached_tokens?: number;
    cached_tokens_details?: { audio_tokens?: number; text_tokens?: number };
  };
  output_token_details?: { audio_tokens?: number; text_tokens?: number };
}

/** Adds one response's usage to `tokens` (in place). */
export function addRealtimeUsage(tokens: RealtimeTokens, usage: RealtimeResponseUsageView): void {
  const input = usage.input_token_details;
  const cachedAudio = input?.cached_tokens_details?.audio_tokens ?? 0;
  // Cached tokens without a breakdown are counted as text: the cheaper reading never overstates.
  const cachedText = input?.cached_tokens_details?.text_tokens ?? Math.max(0, (input?.cached_tokens ?? 0) - cachedAudio);
  tokens.inputTokens += usage.input_tokens ?? 0;
  tokens.outputTokens += usage.output_tokens ?? 0;
  tokens.inputAudioTokens += input?.audio_tokens ?? 0;
  tokens.inputTextTokens += input?.text_tokens ?? 0;
  tokens.inputCachedAudioTokens += cachedAudio;
  tokens.inputCachedTextTokens += cachedText;
  tokens.outputAudioTokens += usage.output_token_details?.audio_tokens ?? 0;
  tokens.outputTextTokens += usage.output_token_details?.text_tokens ?? 0;
}

/** Dollars for `tokens` of the Realtime model `model` (0 for a model the table does not price). */
export function realtimeCostUsd(tokens: RealtimeTokens, model: string, prices: PriceTable): number {
  const price = prices[model] ?? {};
  // Cached tokens are a subset of the input tokens of their kind (the SDK's RealtimeResponseUsage).
  const uncachedAudio = Math.max(0, tokens.inputAudioTokens - tokens.inputCachedAudioTokens);
  const uncachedText = Math.max(0, tokens.inputTextTokens - tokens.inputCachedTextTokens);
  const cachedAudioPrice = price.audioCachedInputPerMTok ?? price.audioInputPerMTok ?? 0;
  const cachedTextPrice = price.textCachedInputPerMTok ?? price.textInputPerMTok ?? 0;
  return (
    (uncachedAudio * (price.audioInputPerMTok ?? 0) +
      tokens.inputCachedAudioTokens * cachedAudioPrice +
      uncachedText * (price.textInputPerMTok ?? 0) +
      tokens.inputCachedTextTokens * cachedTextPrice +
      tokens.outputAudioTokens * (price.audioOutputPerMTok ?? 0) +
      tokens.outputTextTokens * (price.textOutputPerMTok ?? 0)) /
    1_000_000
  );
}

/** Dollars for the pipeline's usage: transcription by the minute, text by the token. */
export function pipelineCostUsd(usage: PipelineUsage, models: { transcribeModel: string; textModel: string }, prices: PriceTable): number {
  const transcription = prices[models.transcribeModel]?.transcriptionPerMinute ?? 0;
  const text = prices[models.textModel] ?? {};
  return (usage.transcriptionSec / 60) * transcription + (usage.textInputTokens * (text.textInputPerMTok ?? 0) + usage.textOutputTokens * (text.textOutputPerMTok ?? 0)) / 1_000_000;
}

/** Dollars to 1/10 000: finer than any price, coarse enough to read. */
export function roundUsd(usd: number): number {
  return Math.round(usd * 10_000) / 10_000;
}

/** The usage the call's end writes: the Realtime part; the pipeline's part is null until it runs. */
export function callUsageAtEnd(tokens: RealtimeTokens, audio: { inputSec: number; outputSec: number }, realtimeModel: string, prices: PriceTable): CallUsage {
  const realtime = roundUsd(realtimeCostUsd(tokens, realtimeModel, prices));
  return {
    realtimeInputTokens: tokens.inputTokens,
    realtimeOutputTokens: tokens.outputTokens,
    realtimeTokens: { ...tokens },
    audioInputSec: roundSec(audio.inputSec),
    audioOutputSec: roundSec(audio.outputSec),
    transcriptionSec: null,
    textTokens: null,
    textInputTokens: null,
    textOutputTokens: null,
    realtimeCostUsd: realtime,
    pipelineCostUsd: null,
    estimatedCostUsd: realtime,
    pricesAsOf,
  };
}

/**
 * The call's usage once a pipeline step has used OpenAI: its transcription seconds and
 * text tokens added to what earlier steps and runs (a reprocess) used — each is paid
 * for — and the cost summed again. (A call without the usage its end writes — ended before
 * usage was measured, or by the lost calls sweep — keeps none: its Realtime part is unknown,
 * and a partial figure would read as the whole.)
 */
export function addPipelineUsage(base: CallUsage, run: Partial<PipelineUsage>, models: { transcribeModel: string; textModel: string }, prices: PriceTable): CallUsage {
  const step: PipelineUsage = { transcriptionSec: run.transcriptionSec ?? 0, textInputTokens: run.textInputTokens ?? 0, textOutputTokens: run.textOutputTokens ?? 0 };
  const transcriptionSec = run.transcriptionSec === undefined ? base.transcriptionSec : roundSec((base.transcriptionSec ?? 0) + step.transcriptionSec);
  const textInputTokens = (base.textInputTokens ?? 0) + step.textInputTokens;
  const textOutputTokens = (base.textOutputTokens ?? 0) + step.textOutputTokens;
  const pipeline = (base.pipelineCostUsd ?? 0) + pipelineCostUsd(step, models, prices);
  return {
    ...base,
    transcriptionSec,
    textInputTokens,
    textOutputTokens,
    textTokens: textInputTokens + textOutputTokens,
    // Kept to 1e-8 between steps (coarser, small steps' rounding would add up); the total to 1/10 000.
    pipelineCostUsd: Math.round(pipeline * 1e8) / 1e8,
    estimatedCostUsd: roundUsd(base.realtimeCostUsd + pipeline),
  };
}

/** Seconds to 1/10 s. */
function roundSec(seconds: number): number {
  return Math.round(seconds * 10) / 10;
}

/**
 * The `p`-th percentile (0–1) of `values` by linear interpolation between the closest
 * ranks — what Postgres's `percentile_cont` computes, so a call's own figures and
 * `callStats`' agree. Null for no values.
 */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = values.toSorted((a, b) => a - b);
  const rank = p * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.ceil(rank);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (rank - low);
}
