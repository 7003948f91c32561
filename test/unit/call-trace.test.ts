import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { performance } from 'node:perf_hooks';
import { SpanStatusCode } from '@opentelemetry/api';
import { hrTimeToMilliseconds } from '@opentelemetry/core';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { startTracing, type Tracing } from '../../src/core/tracing.ts';
import { CallMeter } from '../../src/realtime/session/call-meter.ts';
import { CallTrace } from '../../src/realtime/session/call-trace.ts';

/**
 * What a call's trace makes of what the session reports (call-trace.ts), without sockets:
 * the greeting and turns its call meter measured, barge-ins, failed tools, and the end
 * reasons the model words.
 */

const callId = '00000000-0000-4000-8000-000000000001';
const at = '2026-12-04T08:00:00.000Z';

describe('a call trace', () => {
  const exporter = new InMemorySpanExporter();
  let tracing: Tracing | undefined;

  beforeAll(() => {
    tracing = startTracing({ endpoint: undefined, serviceName: 'callwatch-test', exporter });
  });
  afterAll(() => tracing?.shutdown());
  beforeEach(() => exporter.reset());

  const spans = (name: string) => exporter.getFinishedSpans().filter((span) => span.name === name);

  it('records the greeting and each turn the call meter reports, with their latency parts, a turn interrupted when the caller talks over its answer', () => {
    const trace = new CallTrace('CA00000000000000000000000000009001');
    // Wired as the call session wires them: the meter measures, the trace records.
    let now = performance.now();
    const meter = new CallMeter({ now: () => now, observe: () => {}, onGreeting: (greeting) => trace.greeted(greeting), onTurn: (turn) => trace.turn(turn) });
    /** A response whose first audio delta comes `openaiMs` after its response.created and goes to Twilio `callwatchMs` later. */
    const speak = (responseId: string, openaiMs: number, callwatchMs: number) => {
      meter.responseCreated(responseId);
      now += openaiMs;
      const receivedAt = now;
      now += callwatchMs;
      meter.agentAudio(responseId, 20, receivedAt);
    };
    meter.streamStarted();
    now += 200;
    speak('resp_greeting', 500, 2);
    meter.speechStopped(1000);
    const firstStop = now;
    now += 100;
    speak('resp_1', 600, 3);
    meter.speechStarted(true);
    meter.speechStopped(2000);
    now += 50;
    speak('resp_2', 400, 1);
    meter.speechStarted(false);
    // Speech, a pause, speech again before any answer: no turn.
    meter.speechStopped(3000);
    meter.speechStarted(false);
    meter.ended();
    trace.ended({ reason: 'caller hung up', failed: false, durationSec: 12 });

    expect(spans('call.greeting').map((span) => span.attributes)).toEqual([{ 'callwatch.greeting.latency_ms': 702, 'callwatch.greeting.openai_ms': 500, 'callwatch.greeting.callwatch_ms': 2 }]);
    const turns = spans('call.turn');
    expect(turns.map((span) => span.attributes)).toEqual([
      { 'callwatch.turn.latency_ms': 703, 'callwatch.turn.openai_ms': 600, 'callwatch.turn.callwatch_ms': 3, 'callwatch.turn.interrupted': true },
      { 'callwatch.turn.latency_ms': 451, 'callwatch.turn.openai_ms': 400, 'callwatch.turn.callwatch_ms': 1, 'callwatch.turn.interrupted': false },
    ]);
    // The span runs from the caller's stop to the answer's first frame, on the meter's clock.
    expect(hrTimeToMilliseconds(turns[0]!.startTime)).toBeCloseTo(performance.timeOrigin + firstStop, 0);
    expect(hrTimeToMilliseconds(turns[0]!.duration)).toBeCloseTo(703, 0);
    expect(spans('call')[0]?.attributes).toMatchObject({ 'callwatch.call.turns': 2, 'callwatch.call.end_reason': 'caller hung up', 'callwatch.call.duration_sec': 12 });
  });

  it('marks a failed tool run as an error without its output, and closes a run the call outlived', () => {
    const trace = new CallTrace('CA00000000000000000000000000009002');
    trace.event({ type: 'tool.called', callId, toolCallId: 'call_1', name: 'book_appointment', arguments: '{"notes":"קוד 4512"}', at });
    trace.event({ type: 'tool.result', callId, toolCallId: 'call_1', name: 'book_appointment', output: { error: 'שרה asked for 10:00' }, failed: true, at });
    trace.event({ type: 'tool.called', callId, toolCallId: 'call_2', name: 'check_availability', arguments: '{}', at });
    trace.ended({ reason: 'caller hung up', failed: false, durationSec: 3 });

    const [booking] = spans('call.tool book_appointment');
    expect(booking?.attributes).toMatchObject({ 'callwatch.tool.name': 'book_appointment', 'callwatch.tool.ok': false });
    expect(booking?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'tool failed' });
    expect(JSON.stringify(exporter.getFinishedSpans().map((span) => [span.attributes, span.status, span.events]))).not.toMatch(/4512|שרה/);
    expect(spans('call.tool check_availability')[0]?.status.code).toBe(SpanStatusCode.ERROR);
  });

  it('records the end reason the model gave end_call as "agent ended the call", and a transfer as it is', () => {
    const ended = new CallTrace('CA00000000000000000000000000009003');
    ended.event({ type: 'call.closing', callId, reason: 'agent', at });
    ended.ended({ reason: 'שרה קבעה תור ונפרדה', failed: false, durationSec: 30 });
    const transferred = new CallTrace('CA00000000000000000000000000009004');
    transferred.event({ type: 'call.closing', callId, reason: 'agent', at });
    transferred.ended({ reason: 'transferred', failed: false, durationSec: 30 });
    expect(spans('call').map((span) => span.attributes['callwatch.call.end_reason'])).toEqual(['agent ended the call', 'transferred']);
  });

  it('carries the call span\'s traceparent, which names the call span', () => {
    const trace = new CallTrace('CA00000000000000000000000000009005');
    trace.ended({ reason: 'caller hung up', failed: false, durationSec: 1 });
    const [call] = spans('call');
    expect(trace.traceparent).toBe(`00-${call?.spanContext().traceId}-${call?.spanContext().spanId}-01`);
  });
});
