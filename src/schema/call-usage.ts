import type { CallLatency, CallUsage, RealtimeTokens } from '../core/call-usage.ts';
import { builder } from './builder.ts';

/**
 * A call's latency and usage (core/call-usage.ts), as `Call.latency` and `Call.usage`
 * show them. Both are written with the call's end; the pipeline adds its usage when it runs.
 */

export const CallLatencyRef = builder.objectRef<CallLatency>('CallLatency').implement({
  description:
    'How long the caller waited for the agent, measured by the call session and written with the call’s end. Times in milliseconds. A turn is the wait from the caller’s speech stopping (OpenAI’s voice activity detection) to the first frame of the agent’s answer sent to Twilio, tools run meanwhile included.',
  fields: (t) => ({
    greetingMs: t.exposeInt('greetingMs', { nullable: true, description: 'Media stream start → the first agent audio frame sent to Twilio. Null when the agent never spoke.' }),
    turns: t.exposeInt('turns', { description: 'Caller turns the agent answered with audio.' }),
    turnP50Ms: t.exposeInt('turnP50Ms', { nullable: true, description: 'Median turn latency (interpolated, as percentile_cont). Null without turns.' }),
    turnP95Ms: t.exposeInt('turnP95Ms', { nullable: true, description: '95th percentile of the turn latencies. Null without turns.' }),
    turnMaxMs: t.exposeInt('turnMaxMs', { nullable: true, description: 'The longest turn latency. Null without turns.' }),
    openaiFirstAudioP50Ms: t.exposeInt('openaiFirstAudioP50Ms', {
      nullable: true,
      description: 'OpenAI’s own share: response.created → the response’s first audio, median over the call’s responses that spoke. The rest of a turn is the detection of the end of speech and Callwatch.',
    }),
    openaiFirstAudioP95Ms: t.exposeInt('openaiFirstAudioP95Ms', { nullable: true, description: '95th percentile of OpenAI’s time to first audio.' }),
    interruptions: t.exposeInt('interruptions', { description: 'Times the caller talked over the agent’s audio (barge-in).' }),
    turnMs: t.exposeIntList('turnMs', { description: 'Each turn’s latency, in order (at most the first 500 turns): for a per-turn chart.' }),
  }),
});

const RealtimeTokensRef = builder.objectRef<RealtimeTokens>('RealtimeTokens').implement({
  description: 'The Realtime session’s tokens by kind, summed over its responses as OpenAI reported them (response.done usage). Cached tokens are part of the input tokens of their kind.',
  fields: (t) => ({
    inputAudioTokens: t.exposeInt('inputAudioTokens', { description: 'Audio read: the caller’s speech and the conversation’s audio.' }),
    inputTextTokens: t.exposeInt('inputTextTokens', { description: 'Text read: instructions, transcripts, tool calls and results.' }),
    inputCachedAudioTokens: t.exposeInt('inputCachedAudioTokens', { description: 'Of the audio read, tokens from the prompt cache (billed lower).' }),
    inputCachedTextTokens: t.exposeInt('inputCachedTextTokens', { description: 'Of the text read, tokens from the prompt cache (billed lower).' }),
    outputAudioTokens: t.exposeInt('outputAudioTokens', { description: 'The agent’s speech.' }),
    outputTextTokens: t.exposeInt('outputTextTokens', { description: 'The agent’s text: transcripts of its speech, tool calls.' }),
  }),
});

export const CallUsageRef = builder.objectRef<CallUsage>('CallUsage').implement({
  description:
    'What the call used of OpenAI and how much audio went each way, with its cost estimated from the price table in force (README “Latency and cost”; OPENAI_PRICES overrides it). The session’s part is written with the call’s end; the post-call pipeline adds its transcription and text tokens as each step finishes (each reprocess adds its own: it is paid for too).',
  fields: (t) => ({
    realtimeInputTokens: t.exposeInt('realtimeInputTokens', { description: 'Tokens the Realtime model read, over all its responses (audio and text).' }),
    realtimeOutputTokens: t.exposeInt('realtimeOutputTokens', { description: 'Tokens the Realtime model wrote (audio and text).' }),
    realtimeTokens: t.field({ type: RealtimeTokensRef, description: 'The Realtime tokens by kind.', resolve: (usage) => usage.realtimeTokens }),
    audioInputSec: t.exposeFloat('audioInputSec', { description: 'Seconds of caller audio relayed to OpenAI.' }),
    audioOutputSec: t.exposeFloat('audioOutputSec', { description: 'Seconds of agent audio sent to Twilio (audio the caller interrupted and never got is not counted).' }),
    transcriptionSec: t.exposeFloat('transcriptionSec', { nullable: true, description: 'Seconds of the recording the pipeline sent to transcription (its speech); null until it has run or when nothing was transcribed.' }),
    textTokens: t.exposeInt('textTokens', { nullable: true, description: 'The pipeline’s text-model tokens (summary and extraction, input and output); null until it has run.' }),
    realtimeCostUsd: t.exposeFloat('realtimeCostUsd', { description: 'The Realtime session’s estimated cost, in US dollars.' }),
    pipelineCostUsd: t.exposeFloat('pipelineCostUsd', { nullable: true, description: 'The pipeline’s estimated cost (transcription, text), in US dollars; null until it has run.' }),
    estimatedCostUsd: t.exposeFloat('estimatedCostUsd', { description: 'The call’s estimated OpenAI cost so far, in US dollars (Realtime + pipeline). Twilio’s charges are not included.' }),
    pricesAsOf: t.exposeString('pricesAsOf', { description: 'The date of the price table the estimate used (YYYY-MM-DD).' }),
  }),
});
