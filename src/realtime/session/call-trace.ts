import type { AgentEvent, CallEvent } from '../../core/events.ts';
import { contextOf, endSpan, nowMs, SpanKind, startSpan, tracingEnabled, traceparentOf, type Span } from '../../core/tracing.ts';
import type { CallContext } from '../call-context.ts';

/**
 * The latency of one turn: the caller stopped speaking (OpenAI's `speech_stopped` reached
 * us) → the agent's first audio frame went to Twilio. Times in epoch milliseconds.
 */
export interface TurnTiming {
  startedAt: number;
  firstAudioAt: number;
  /** The caller talked over the agent's answer. */
  interrupted: boolean;
  /** The part spent waiting for OpenAI, when measured. */
  openaiMs?: number;
  /** Callwatch's own part (receiving the first audio delta → sending it on), when measured. */
  callwatchMs?: number;
}

/**
 * Records one turn as a child span of the call's span (`call.turn`), its latency parts as
 * attributes. Costs nothing when `callSpan` does not record (tracing off).
 */
export function recordTurn(callSpan: Span, turn: TurnTiming): void {
  if (!callSpan.isRecording()) return;
  const span = startSpan('call.turn', {
    parent: contextOf(callSpan),
    startTime: turn.startedAt,
    attributes: {
      'callwatch.turn.latency_ms': Math.round(turn.firstAudioAt - turn.startedAt),
      'callwatch.turn.interrupted': turn.interrupted,
      ...(turn.openaiMs === undefined ? {} : { 'callwatch.turn.openai_ms': Math.round(turn.openaiMs) }),
      ...(turn.callwatchMs === undefined ? {} : { 'callwatch.turn.callwatch_ms': Math.round(turn.callwatchMs) }),
    },
  });
  span.end(turn.firstAudioAt);
}

/**
 * The end reasons of a call the agent closed that Callwatch itself words; any other is the
 * `reason` argument the model gave end_call, which may quote the caller, and is not traced.
 */
const agentEndReasons = new Set(['transferred', 'transfer failed']);

/**
 * The trace of one call: a `call` span from the media stream's verified `start` to the
 * call's end, with children for the greeting, each turn and each tool run. The session
 * tells it a handful of moments per turn (never per audio frame); with tracing off the span
 * does not record and every method returns at its first line.
 *
 * What it records is ids, counts, durations and outcomes only: never the caller's number or
 * name, a transcript, a tool's arguments or output, or the agent's instructions.
 */
export class CallTrace {
  readonly #span: Span;
  readonly #recording: boolean;
  readonly #startedAt = nowMs();
  #greeted = false;
  /** The caller stopped speaking at this time, and the agent has not answered yet. */
  #awaitingSince: number | undefined;
  /** A turn answered, kept until we know whether the caller interrupted its answer. */
  #answered: { startedAt: number; firstAudioAt: number } | undefined;
  readonly #tools = new Map<string, { span: Span; startedAt: number }>();
  #turns = 0;
  /** The agent closed the call (end_call or transfer_to_human): the end reason is then the model's own words. */
  #agentClosed = false;

  constructor(callSid: string) {
    this.#recording = tracingEnabled();
    this.#span = startSpan('call', { kind: SpanKind.SERVER, startTime: this.#startedAt, attributes: this.#recording ? { 'twilio.call_sid': callSid } : undefined });
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

  /** OpenAI reported the caller stopped speaking. */
  callerStopped(): void {
    if (!this.#recording) return;
    this.#flushAnswered(false);
    this.#awaitingSince = nowMs();
  }

  /** The caller started speaking; `interrupted`: over the agent's audio (a barge-in). */
  callerStarted(interrupted: boolean): void {
    if (!this.#recording) return;
    this.#flushAnswered(interrupted);
    // Speech again before any answer: that pause was not a turn.
    this.#awaitingSince = undefined;
  }

  /** The first audio frame of an agent item went to Twilio (once per item, not per frame). */
  agentAudioStarted(): void {
    if (!this.#recording) return;
    const now = nowMs();
    if (!this.#greeted) {
      this.#greeted = true;
      startSpan('call.greeting', { parent: contextOf(this.#span), startTime: this.#startedAt, attributes: { 'callwatch.greeting.latency_ms': Math.round(now - this.#startedAt) } }).end(now);
    }
    if (this.#awaitingSince === undefined) return;
    this.#flushAnswered(false);
    this.#answered = { startedAt: this.#awaitingSince, firstAudioAt: now };
    this.#awaitingSince = undefined;
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
    this.#flushAnswered(false);
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

  #flushAnswered(interrupted: boolean): void {
    const turn = this.#answered;
    if (!turn) return;
    this.#answered = undefined;
    this.#turns += 1;
    recordTurn(this.#span, { ...turn, interrupted });
  }
}
