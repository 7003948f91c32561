import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { startTracing, type Tracing } from '../src/core/tracing.ts';
import { CallTrace } from '../src/realtime/session/call-trace.ts';

/**
 * What a call's trace makes of the moments the session reports (call-trace.ts), without
 * sockets: turns and barge-ins, failed tools, and the end reasons the model words.
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

  it('records a turn as interrupted when the caller talks over its answer, and one answered in peace as not', () => {
    const trace = new CallTrace('CA00000000000000000000000000009001');
    trace.agentAudioStarted(); // the greeting
    trace.callerStopped();
    trace.agentAudioStarted();
    trace.callerStarted(true);
    trace.callerStopped();
    trace.agentAudioStarted();
    trace.callerStarted(false);
    // Speech, a pause, speech again before any answer: no turn.
    trace.callerStopped();
    trace.callerStarted(false);
    trace.ended({ reason: 'caller hung up', failed: false, durationSec: 12 });

    expect(spans('call.greeting')).toHaveLength(1);
    expect(spans('call.turn').map((span) => span.attributes['callwatch.turn.interrupted'])).toEqual([true, false]);
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
