import { describe, expect, it } from 'vitest';
import { addPipelineUsage, percentile } from '../../src/core/call-usage.ts';
import { priceTable } from '../../src/core/prices.ts';
import { CallMeter, type MeteredGreeting, type MeteredTurn } from '../../src/realtime/session/call-meter.ts';

/** A meter on a clock that moves only when the test says so, recording what it observes. */
function meter() {
  let now = 10_000;
  const observed: [string, number][] = [];
  const turns: MeteredTurn[] = [];
  const greetings: MeteredGreeting[] = [];
  const callMeter = new CallMeter({
    now: () => now,
    observe: (name, seconds) => observed.push([name, seconds]),
    onGreeting: (greeting) => greetings.push(greeting),
    onTurn: (turn) => turns.push(turn),
  });
  return {
    meter: callMeter,
    observed,
    turns,
    greetings,
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}

/**
 * One caller turn answered `latencyMs` after the caller stopped, OpenAI's first audio
 * `openaiMs` after its response.created, sent to Twilio `callwatchMs` after it arrived.
 */
function turn(m: ReturnType<typeof meter>, responseId: string, latencyMs: number, openaiMs = latencyMs / 2, callwatchMs = 0) {
  m.meter.speechStarted(false);
  m.meter.speechStopped(1234);
  m.advance(latencyMs - openaiMs - callwatchMs);
  m.meter.responseCreated(responseId);
  m.advance(openaiMs);
  const receivedAt = m.now();
  m.advance(callwatchMs);
  m.meter.agentAudio(responseId, 20, receivedAt);
  m.meter.agentAudio(responseId, 20);
  m.meter.responseDone(responseId, undefined);
}

/** The stream starts; the greeting's response is created `beforeMs` later, its first audio arrives `openaiMs` after that and goes to Twilio `callwatchMs` later. */
function greet(m: ReturnType<typeof meter>, beforeMs: number, openaiMs: number, callwatchMs = 0) {
  m.meter.streamStarted();
  m.advance(beforeMs);
  m.meter.responseCreated('resp_greeting');
  m.advance(openaiMs);
  const receivedAt = m.now();
  m.advance(callwatchMs);
  m.meter.agentAudio('resp_greeting', 20, receivedAt);
}

describe('call meter: latency', () => {
  it('times the greeting from the stream start to the first agent frame, and each turn from speech stopped to the answer’s first frame', () => {
    const m = meter();
    greet(m, 300, 450);
    m.advance(2000);
    turn(m, 'resp_1', 600, 400);
    turn(m, 'resp_2', 900, 500);

    const latency = m.meter.latency();
    expect(latency).toEqual({
      greetingMs: 750,
      turns: 2,
      turnP50Ms: 750,
      turnP95Ms: 885,
      turnMaxMs: 900,
      openaiFirstAudioP50Ms: 450,
      openaiFirstAudioP95Ms: 495,
      interruptions: 0,
      turnMs: [600, 900],
    });
    expect(m.observed).toEqual([
      ['openai_time_to_first_audio_seconds', 0.45],
      ['call_greeting_latency_seconds', 0.75],
      ['openai_time_to_first_audio_seconds', 0.4],
      ['call_turn_latency_seconds', 0.6],
      ['openai_time_to_first_audio_seconds', 0.5],
      ['call_turn_latency_seconds', 0.9],
    ]);
    m.meter.ended();
    expect(m.turns.map((t) => [t.index, t.latencyMs, t.openaiFirstAudioMs, t.responseId, t.audioEndMs])).toEqual([
      [1, 600, 400, 'resp_1', 1234],
      [2, 900, 500, 'resp_2', 1234],
    ]);
  });

  it('splits the greeting and each turn into OpenAI’s share and Callwatch’s, and reports a turn once the caller next speaks, interrupted or not', () => {
    const m = meter();
    greet(m, 300, 450, 4);
    expect(m.greetings).toEqual([{ streamStartedAt: 10_000, firstAudioAt: 10_754, latencyMs: 754, openaiFirstAudioMs: 450, callwatchMs: 4, responseId: 'resp_greeting' }]);
    turn(m, 'resp_1', 600, 400, 3);
    // Not yet: the caller may still talk over the answer.
    expect(m.turns).toEqual([]);
    m.meter.speechStarted(true);
    m.meter.speechStopped(3000);
    m.advance(500);
    // Its response.created was not seen (on a session since replaced): OpenAI's share is unknown.
    m.meter.agentAudio('resp_2', 20);
    m.advance(2000);
    // The caller speaks again once the answer has played: not interrupted.
    m.meter.speechStarted(false);
    turn(m, 'resp_3', 700, 300, 1);
    m.meter.ended();
    expect(m.turns.map((t) => [t.index, t.latencyMs, t.openaiFirstAudioMs, t.callwatchMs, t.interrupted])).toEqual([
      [1, 600, 400, 3, true],
      [2, 500, undefined, 0, false],
      [3, 700, 300, 1, false],
    ]);
    expect(m.meter.latency()).toMatchObject({ turns: 3, turnMs: [600, 500, 700], interruptions: 1 });
  });

  it('p50 and p95 over ten turns interpolate between ranks as percentile_cont does', () => {
    const m = meter();
    m.meter.streamStarted();
    m.meter.agentAudio('resp_greeting', 20);
    for (const [index, ms] of [500, 100, 900, 300, 700, 200, 1000, 400, 800, 600].entries()) turn(m, `resp_${index}`, ms);
    const latency = m.meter.latency();
    expect(latency.turns).toBe(10);
    expect(latency.turnP50Ms).toBe(550);
    expect(latency.turnP95Ms).toBe(955);
    expect(latency.turnMaxMs).toBe(1000);
    expect(latency.turnMs).toEqual([500, 100, 900, 300, 700, 200, 1000, 400, 800, 600]);
    expect(percentile([], 0.5)).toBeNull();
  });

  it('counts barge-ins, and a caller who speaks again before the answer restarts the wait from their last stop', () => {
    const m = meter();
    m.meter.streamStarted();
    m.advance(500);
    m.meter.agentAudio('resp_greeting', 20);
    m.meter.speechStarted(true);
    m.meter.speechStopped(100);
    m.advance(700);
    // They go on talking: VAD's answer to the first stop never plays.
    m.meter.speechStarted(false);
    m.advance(1500);
    m.meter.speechStopped(2300);
    m.advance(450);
    m.meter.agentAudio('resp_1', 20);
    const latency = m.meter.latency();
    expect(latency).toMatchObject({ greetingMs: 500, turns: 1, turnMs: [450], interruptions: 1 });
  });

  it('the greeting is never a turn, and a call with no agent audio has no greeting and no percentiles', () => {
    const m = meter();
    m.meter.streamStarted();
    m.meter.speechStopped(500);
    m.advance(800);
    m.meter.agentAudio('resp_greeting', 20);
    expect(m.meter.latency()).toMatchObject({ greetingMs: 800, turns: 0, turnP50Ms: null, turnMaxMs: null });
    expect(meter().meter.latency()).toMatchObject({ greetingMs: null, turns: 0, turnP50Ms: null, turnP95Ms: null, turnMaxMs: null, openaiFirstAudioP50Ms: null });
  });

  it('keeps at most 500 turn latencies but counts every turn', () => {
    const m = meter();
    m.meter.streamStarted();
    m.meter.agentAudio('resp_greeting', 20);
    for (let index = 0; index < 502; index++) turn(m, `resp_${index}`, index === 501 ? 5000 : 100);
    const latency = m.meter.latency();
    expect(latency.turns).toBe(502);
    expect(latency.turnMs).toHaveLength(500);
    expect(latency.turnMaxMs).toBe(5000);
  });
});

describe('call meter: usage and cost', () => {
  it('sums response.done usage and prices it with the realtime model’s prices, cached tokens at the cached price', () => {
    const m = meter();
    m.meter.responseDone('resp_1', {
      input_tokens: 1200,
      output_tokens: 300,
      input_token_details: { audio_tokens: 200, text_tokens: 1000, cached_tokens: 500, cached_tokens_details: { audio_tokens: 0, text_tokens: 500 } },
      output_token_details: { audio_tokens: 250, text_tokens: 50 },
    });
    m.meter.responseDone('resp_2', { input_tokens: 100, output_tokens: 0, input_token_details: { audio_tokens: 100, text_tokens: 0 } });
    // 2 s of caller audio (8000 μ-law bytes a second, base64), 1.5 s of agent audio.
    const second = Buffer.alloc(8000).toString('base64');
    m.meter.callerAudio(second);
    m.meter.callerAudio(second);
    m.meter.agentAudio('resp_1', 1500);
    const usage = m.meter.usage('gpt-realtime-1.5', priceTable());
    // Audio in 300 × $32, text in 500 × $4 + 500 cached × $0.40, audio out 250 × $64, text out 50 × $16 — per 1M.
    const expected = (300 * 32 + 500 * 4 + 500 * 0.4 + 250 * 64 + 50 * 16) / 1e6;
    expect(usage).toMatchObject({
      realtimeInputTokens: 1300,
      realtimeOutputTokens: 300,
      audioInputSec: 2,
      audioOutputSec: 1.5,
      transcriptionSec: null,
      textTokens: null,
      realtimeCostUsd: Math.round(expected * 10_000) / 10_000,
      estimatedCostUsd: Math.round(expected * 10_000) / 10_000,
    });
    expect(usage.realtimeTokens).toMatchObject({ inputAudioTokens: 300, inputTextTokens: 1000, inputCachedTextTokens: 500, outputAudioTokens: 250, outputTextTokens: 50 });
  });

  it('the pipeline adds its transcription minutes and text tokens, and an OPENAI_PRICES override changes the estimate', () => {
    const prices = priceTable({ 'gpt-5.4-mini': { textInputPerMTok: 1, textOutputPerMTok: 10 } });
    const atEnd = meter().meter.usage('gpt-realtime-1.5', prices);
    const models = { transcribeModel: 'gpt-transcribe', textModel: 'gpt-5.4-mini' };
    const after = addPipelineUsage(atEnd, { transcriptionSec: 120, textInputTokens: 10_000, textOutputTokens: 1_000 }, models, prices);
    // 2 min × $0.0045 + 10 000 × $1/1M + 1 000 × $10/1M.
    expect(after).toMatchObject({ transcriptionSec: 120, textTokens: 11_000, pipelineCostUsd: 0.029, estimatedCostUsd: 0.029 });
    // A reprocess is paid for again.
    const again = addPipelineUsage(after, { transcriptionSec: 120, textInputTokens: 0, textOutputTokens: 0 }, models, prices);
    expect(again).toMatchObject({ transcriptionSec: 240, textTokens: 11_000, estimatedCostUsd: 0.038 });
  });
});
