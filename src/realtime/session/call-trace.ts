import type { AgentEvent, CallEvent } from '../../core/events.ts';
import { contextOf, endSpan, epochMsOf, nowMs, SpanKind, startSpan, tracingEnabled, traceparentOf, type Attributes, type Span } from '../../core/tracing.ts';
import type { CallContext } from '../call-context.ts';
import type { FirstAudioParts, MeteredGreeting, MeteredTurn } from './call-meter.ts';

/**
 * The latency of one turn as CallMeter measured it: the caller stopped speaking (OpenAI's
 * `speech_stopped` reached us) → the agent's first audio frame went to Twilio. Times on
 * `performance.now()`'s clock, as the meter's are.
 */
export type TurnTiming = Pick<MeteredTurn, 'speechStoppedAt' | 'firstAudioAt' | 'latencyMs' | 'interrupted' | 'openaiFirstAudioMs' | 'callwatchMs'>;

/**
 * Records one turn as a child span of the call's span (`call.turn`), its latency parts as
 * attributes: the numbers the meter gave the histograms and `Call.latency`, not a second
 * measurement. Costs nothing when `callSpan` does not record (tracing off).
 */
export function recordTurn(callSpan: Span, turn: TurnTiming): void {
  if (!callSpan.isRecording()) return;
  const span = startSpan('call.turn', {
    parent: contextOf(callSpan),
    startTime: epochMsOf(turn.speechStoppedAt),
    attributes: { 'callwatch.turn.latency_ms': Math.round(turn.latencyMs), 'callwatch.turn.interrupted': turn.interrupted, ...partAttributes('callwatch.turn', turn) },
  });
  span.end(epochMsOf(turn.firstAudioAt));
}

/** OpenAI's and Callwatch's shares of a wait, as `<prefix>.openai_ms` and `<prefix>.callwatch_ms` (whole ms). */
function partAttributes(prefix: string, parts: Pick<FirstAudioParts, 'openaiFirstAudioMs' | 'callwatchMs'>): Attributes {
  return {
    ...(parts.openaiFirstAudioMs === undefined ? {} : { [`${prefix}.openai_ms`]: Math.round(parts.openaiFirstAudioMs) }),
    [`${prefix}.callwatch_ms`]: Math.round(parts.callwatchMs),
  };
}

/**
 * The end reasons of a call the agent closed that Callwatch itself words; any other is the
 * `reason` argument the model gave end_call, which may quote the caller, and is not traced.
 */
const agentEndReasons = new Set(['transferred', 'transfer failed']);

/**
 * The trace of one call: a `call` span from the media stream's verified `start` to the
 * call's end, with children for the greeting, each turn and each tool run. The greeting
 * and the turns come from the call's CallMeter (the one measurement of them); tool runs
 * from the call's events. Never per audio frame; with tracing off the span does not record
 * and every method returns at its first line.
 *
 * What it records is ids, counts, durations and outcomes only: never the caller's number or
 * name, a transcript, a tool's arguments or output, or the agent's instructions.
 */
export class CallTrace {
  readonly #span: Span;
  readonly #recording: boolean;
  readonly #tools = new Map<string, { span: Span; startedAt: number }>();
  #turns = 0;
  /** The agent closed the call (end_call or transfer_to_human): the end reason is then the model's own words. */
  #agentClosed = false;

  constructor(callSid: string) {
    this.#recording = tracingEnabled();
    this.#span = startSpan('call', { kind: SpanKind.SERVER, startTime: nowMs(), attributes: this.#recording ? { 'twilio.call_sid': callSid } : undefined });
    // Taken now: an ended span no longer records, and the call's end write needs it after the end.
    this.traceparent = this.#recording ? traceparentOf(this.#span) : undefined;
  }

  /** The call's span (a parent for what the call causes). */
  get span(): Span {
    return this.#span;
  }

  /** The call span's W3C traceparent, carried by the post-call jobs; undefined when tracing is off. */
  readonly traceparent: string | undefined;

  /** The call's context has loaded: who it is for (ids only). */
  loaded(context: CallContext): void {
    if (!this.#recording) return;
    this.#span.setAttributes({ 'callwatch.call.id': context.callId, 'callwatch.business.id': context.business.id, 'callwatch.call.direction': context.direction });
  }

  /** The greeting's first audio went to Twilio (CallMeter's `onGreeting`). */
  greeted(greeting: MeteredGreeting): void {
    if (!this.#recording) return;
    const attributes = { 'callwatch.greeting.latency_ms': Math.round(greeting.latencyMs), ...partAttributes('callwatch.greeting', greeting) };
    startSpan('call.greeting', { parent: contextOf(this.#span), startTime: epochMsOf(greeting.streamStartedAt), attributes }).end(epochMsOf(greeting.firstAudioAt));
  }

  /** A turn answered and settled, interrupted or not (CallMeter's `onTurn`). */
  turn(turn: MeteredTurn): void {
    if (!this.#recording) return;
    this.#turns += 1;
    recordTurn(this.#span, turn);
  }

  /** A call event as the session publishes it: tool runs become child spans. */
  event(event: CallEvent | AgentEvent): void {
    if (!this.#recording) return;
    if (event.type === 'call.closing' && event.reason === 'agent') this.#agentClosed = true;
    else if (event.type === 'tool.called') {
      const startedAt = nowMs();
      const span = startSpan(`call.tool ${event.name}`, { parent: contextOf(this.#span), startTime: startedAt, attributes: { 'callwatch.tool.name': event.name } });
      this.#tools.set(event.toolCallId, { span, startedAt });
    } else if (event.type === 'tool.result') {
      const run = this.#tools.get(event.toolCallId);
      if (!run) return;
      this.#tools.delete(event.toolCallId);
      const endedAt = nowMs();
      run.span.setAttributes({ 'callwatch.tool.ok': !event.failed, 'callwatch.tool.duration_ms': Math.round(endedAt - run.startedAt) });
      // The tool's own error text may quote the caller's words: the status says only that it failed.
      endSpan(run.span, event.failed ? 'tool failed' : undefined, endedAt);
    }
  }

  /** The call is over: its last turn and any tool still running are closed, then the call's span. */
  ended(outcome: { reason: string; failed: boolean; durationSec: number }): void {
    if (!this.#recording) return;
    const endedAt = nowMs();
    for (const run of this.#tools.values()) endSpan(run.span, 'the call ended first', endedAt);
    this.#tools.clear();
    this.#span.setAttributes({
      'callwatch.call.end_reason': this.#agentClosed && !agentEndReasons.has(outcome.reason) ? 'agent ended the call' : outcome.reason,
      'callwatch.call.duration_sec': outcome.durationSec,
      'callwatch.call.turns': this.#turns,
    });
    endSpan(this.#span, outcome.failed ? 'call failed' : undefined, endedAt);
  }
}
