import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trace, type ProxyTracerProvider } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { tracer, tracingEnabled } from '../../src/core/tracing.ts';
import { Call } from '../../src/entities/call.entity.ts';
import { fixtureText, loadFixture } from '../../src/sandbox/fixtures.ts';
import { recordingCallbackParams } from '../../src/sandbox/twilio-webhook.ts';
import { startTestApp } from '../support/app.ts';
import { postTwilioWebhook, twilioAccountSid } from '../support/twilio.ts';
import { endedCall, eventually, placeCall, sarahsNumber, startCallHarness, type CallHarness } from '../support/calls.ts';

/**
 * Traces (README "Traces"): a span per call with its greeting, turns and tool runs; the
 * post-call jobs and their steps in the call's trace; a span per HTTP request and GraphQL
 * operation — and no phone number, transcript, name or prompt in any of them. Tracing off
 * registers nothing; on, spans reach a collector over OTLP/HTTP.
 */

const callerLine = fixtureText('caller-booking');
const greeting = 'שלום שרה, ברוכה הבאה לשיפוצי הגליל. במה אפשר לעזור?';
const agentReply = 'רשמתי. יש תור פנוי מחר בבוקר בחיפה.';
const toolArguments = { name: 'ד״ר שרה לוי-כהן', city: 'חיפה', service: 'שיפוץ מטבח', notes: 'מעדיפה בוקר, הקוד לבניין 4512' };

/** Everything a span says: its name, attributes, events (and theirs), status, links. */
function spanText(span: ReadableSpan): string {
  return JSON.stringify([span.name, span.attributes, span.events.map((event) => [event.name, event.attributes]), span.status, span.links.map((link) => link.attributes)]);
}

const byName = (spans: ReadableSpan[], name: string) => spans.filter((span) => span.name === name);
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

describe('traces of a call, its pipeline and the API', () => {
  const exporter = new InMemorySpanExporter();
  let h: CallHarness;

  beforeAll(async () => {
    h = await startCallHarness({ pipeline: true, spanExporter: exporter });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('gives a call a span with its greeting, turns and tool run as children, and puts the pipeline and webhook jobs in the same trace', async () => {
    const callSid = 'CA00000000000000000000000000007001';
    const { caller, session } = await placeCall(h, callSid);
    session.script({
      replies: [{ text: greeting, audio: loadFixture('agent-greeting') }, { toolCall: { name: 'save_lead_details', arguments: toolArguments } }, { text: agentReply }],
      callerTranscripts: [callerLine],
    });
    caller.start();
    await eventually(() => caller.heardMs(), (ms) => ms >= loadFixture('agent-greeting').length / 8, 'the greeting to play');
    await caller.play(loadFixture('caller-booking'), { pace: 'instant' });
    await caller.silence(800, { pace: 'instant' });
    await session.waitForToolOutput();
    await eventually(() => session.sent.filter((event) => event.type === 'response.done').length, (n) => n === 3, 'the reply after the tool');
    await eventually(() => caller.heardMs(), (ms) => ms > loadFixture('agent-greeting').length / 8 + 1000, 'the reply to play');
    await h.twilioApi.hangUp(callSid);
    const row = await endedCall(h, callSid);
    await h.pipeline!.receiver.waitForCount(1);
    const spans = await eventually(() => exporter.getFinishedSpans(), (all) => all.some((span) => span.name === 'job webhook.deliver'), 'the webhook job span');

    const [call] = byName(spans, 'call');
    expect(call?.attributes).toMatchObject({
      'callwatch.call.id': row.id,
      'callwatch.business.id': h.business.id,
      'callwatch.call.direction': 'inbound',
      'callwatch.call.end_reason': 'caller hung up',
      'callwatch.call.duration_sec': row.durationSec,
    });
    const traceId = call!.spanContext().traceId;
    const callSpanId = call!.spanContext().spanId;
    const children = spans.filter((span) => parentOf(span) === callSpanId);
    expect(children.map((span) => span.name)).toEqual(expect.arrayContaining(['call.greeting', 'call.turn', 'call.tool save_lead_details']));
    const [turn] = byName(children, 'call.turn');
    expect(turn?.attributes).toMatchObject({ 'callwatch.turn.interrupted': false, 'callwatch.turn.latency_ms': expect.any(Number) });
    expect(byName(children, 'call.tool save_lead_details')[0]?.attributes).toMatchObject({ 'callwatch.tool.name': 'save_lead_details', 'callwatch.tool.ok': true });

    // The pipeline's job is the call's child; each step the job's; the webhook's job is the deliver step's.
    const [job] = byName(spans, 'job call.process');
    expect(job?.spanContext().traceId).toBe(traceId);
    expect(parentOf(job!)).toBe(callSpanId);
    const steps = spans.filter((span) => parentOf(span) === job!.spanContext().spanId).map((span) => span.name);
    expect(steps).toEqual(['pipeline download', 'pipeline transcribe', 'pipeline summarize', 'pipeline extract', 'pipeline deliver']);
    const [webhook] = byName(spans, 'job webhook.deliver');
    expect(webhook?.spanContext().traceId).toBe(traceId);
    expect(parentOf(webhook!)).toBe(byName(spans, 'pipeline deliver')[0]?.spanContext().spanId);
    expect(webhook?.attributes).toMatchObject({ 'callwatch.webhook.status': 'delivered', 'http.response.status_code': 200 });

    // No span anywhere — call, turns, tools, voice webhook, jobs, steps — says who called or what was said.
    const instructions = (session.received.find((event) => event.type === 'session.update') as { session: { instructions?: string } } | undefined)?.session.instructions ?? '';
    expect(instructions.length).toBeGreaterThan(100);
    const stored = await h.app.services.orm.em.fork().findOneOrFail(Call, { callSid });
    const secrets = [
      // Sarah's number in every format it could take, and its national digits alone.
      sarahsNumber,
      sarahsNumber.slice(1),
      '0501234567',
      '050-123-4567',
      '501234567',
      'שרה',
      'לוי',
      ...callerLine.split(/[.?!,]\s*/).filter((part) => part.trim().length > 8),
      greeting,
      agentReply,
      ...Object.values(toolArguments),
      instructions,
      ...instructions.split('\n').filter((line) => line.trim().length > 20),
      ...(stored.summary ? [stored.summary] : []),
      ...(stored.finalTranscript ? stored.finalTranscript.split('\n').filter((line) => line.trim().length > 8) : []),
    ];
    const leaks = spans.flatMap((span) => secrets.filter((secret) => spanText(span).includes(secret)).map((secret) => `${span.name}: ${secret.slice(0, 40)}`));
    expect(leaks).toEqual([]);
    // The voice webhook's request is among the spans checked.
    expect(spans.map((span) => span.name)).toContain('POST /twilio/voice');
  });

  it('gives the greeting and each turn their latency parts, the same numbers the call stores (one measurement), and nothing personal', async () => {
    exporter.reset();
    const callSid = 'CA00000000000000000000000000007003';
    const { caller, session } = await placeCall(h, callSid);
    session.script({ replies: [{ text: greeting }, { text: agentReply }], callerTranscripts: [callerLine] });
    // OpenAI takes 300 ms from response.created to the answer's first audio.
    const openaiDelayMs = 300;
    caller.start();
    await session.waitForSent('response.done');
    session.delayFirstAudio(openaiDelayMs);
    const greetingBytes = session.sent.reduce((total, event) => total + (event.type === 'response.output_audio.delta' ? Buffer.from(event.delta, 'base64').length : 0), 0);
    await eventually(() => caller.heardMs(), (ms) => ms >= greetingBytes / 8, 'the greeting to play');
    await caller.play(loadFixture('caller-booking'), { pace: 'instant' });
    await caller.silence(800, { pace: 'instant' });
    const stopped = await session.waitForSent('input_audio_buffer.speech_stopped');
    const answerAudio = await session.waitForSent('response.output_audio.delta', 5000, { after: session.sent.indexOf(stopped) });
    await caller.waitFor((message) => message.event === 'media' && message.media.payload === answerAudio.delta, 5000);
    caller.stop();
    await caller.closed;
    const row = await endedCall(h, callSid);
    const spans = await eventually(() => exporter.getFinishedSpans(), (all) => all.some((span) => span.name === 'call'), 'the call span');

    const [call] = byName(spans, 'call');
    const children = spans.filter((span) => parentOf(span) === call!.spanContext().spanId);
    const [greetingSpan] = byName(children, 'call.greeting');
    const turns = byName(children, 'call.turn');
    expect(turns).toHaveLength(1);
    const parts = turns[0]!.attributes;
    expect(parts).toMatchObject({
      'callwatch.turn.latency_ms': row.latency!.turnMs[0],
      'callwatch.turn.openai_ms': expect.any(Number),
      'callwatch.turn.callwatch_ms': expect.any(Number),
      'callwatch.turn.interrupted': false,
    });
    // OpenAI's share holds the delay it was given (not asserted as a bound: under load,
    // response.created itself can reach us late, which moves time out of the share — no
    // timing asserts in tests); the parts fit in the whole (each rounded on its own).
    expect(parts['callwatch.turn.openai_ms']).toBeGreaterThan(0);
    expect(Number(parts['callwatch.turn.openai_ms']) + Number(parts['callwatch.turn.callwatch_ms'])).toBeLessThanOrEqual(Number(parts['callwatch.turn.latency_ms']) + 1);
    expect(greetingSpan?.attributes).toMatchObject({
      'callwatch.greeting.latency_ms': row.latency!.greetingMs,
      'callwatch.greeting.openai_ms': expect.any(Number),
      'callwatch.greeting.callwatch_ms': expect.any(Number),
    });
    expect(call?.attributes['callwatch.call.turns']).toBe(1);

    const secrets = [sarahsNumber, sarahsNumber.slice(1), '0501234567', 'שרה', 'לוי', greeting, agentReply, ...callerLine.split(/[.?!,]\s*/).filter((part) => part.trim().length > 8)];
    const leaks = spans.flatMap((span) => secrets.filter((secret) => spanText(span).includes(secret)).map((secret) => `${span.name}: ${secret.slice(0, 40)}`));
    expect(leaks).toEqual([]);
  });

  it('gives each HTTP request a span with its route and status, and each GraphQL operation a child span, without the query string', async () => {
    exporter.reset();
    const response = await fetch(`${h.app.url}/graphql?token=leaked-token-123`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${h.app.services.config.adminApiKey}` },
      body: JSON.stringify({ query: 'query TraceProbe { __typename }', operationName: 'TraceProbe' }),
    });
    expect(response.status).toBe(200);
    const spans = await eventually(() => exporter.getFinishedSpans(), (all) => all.some((span) => span.name === 'POST /graphql'), 'the request span');
    const [request] = byName(spans, 'POST /graphql');
    expect(request?.attributes).toMatchObject({ 'http.request.method': 'POST', 'http.route': '/graphql', 'http.response.status_code': 200 });
    const [operation] = byName(spans, 'graphql query TraceProbe');
    expect(operation?.attributes).toMatchObject({ 'graphql.operation.type': 'query', 'graphql.operation.name': 'TraceProbe' });
    expect(parentOf(operation!)).toBe(request?.spanContext().spanId);
    const text = spans.map(spanText).join('\n');
    expect(text).not.toContain('leaked-token-123');
    expect(text).not.toContain(h.app.services.config.adminApiKey);
  });
});

describe('traces of a recorded call', () => {
  const exporter = new InMemorySpanExporter();
  let h: CallHarness;

  beforeAll(async () => {
    h = await startCallHarness({ pipeline: true, recordCalls: true, spanExporter: exporter });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('puts the pipeline Twilio\'s recording callback starts in the call\'s trace', async () => {
    const callSid = 'CA00000000000000000000000000007002';
    const { caller, session } = await placeCall(h, callSid);
    caller.start();
    await session.waitForReceived('response.create');
    caller.stop();
    await caller.closed;
    await endedCall(h, callSid);
    const params = recordingCallbackParams({ accountSid: twilioAccountSid, callSid, recordingSid: `RE${'7'.repeat(32)}`, status: 'absent', durationSec: 0, channels: 2 });
    expect((await postTwilioWebhook(h.app.url, '/twilio/recording', params)).status).toBe(204);
    const spans = await eventually(() => exporter.getFinishedSpans(), (all) => all.some((span) => span.name === 'job call.process'), 'the pipeline job span');
    const [call] = byName(spans, 'call');
    const [job] = byName(spans, 'job call.process');
    expect(job?.spanContext().traceId).toBe(call?.spanContext().traceId);
    expect(parentOf(job!)).toBe(call?.spanContext().spanId);
  });
});

describe('tracing off', () => {
  it('registers no tracer provider when OTEL_EXPORTER_OTLP_ENDPOINT is unset: spans do not record', async () => {
    const app = await startTestApp();
    try {
      expect(tracingEnabled()).toBe(false);
      expect((trace.getTracerProvider() as ProxyTracerProvider).getDelegate().constructor.name).toBe('NoopTracerProvider');
      const span = tracer().startSpan('probe');
      expect(span.isRecording()).toBe(false);
      span.end();
    } finally {
      await app.stop();
    }
  });
});

describe('export over OTLP/HTTP', () => {
  it('sends the spans to the collector at OTEL_EXPORTER_OTLP_ENDPOINT, flushed at shutdown', async () => {
    const received: { path: string; type: string; body: Buffer }[] = [];
    let arrived: () => void = () => {};
    const arrival = new Promise<void>((resolve) => (arrived = resolve));
    const collector = createServer((req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        received.push({ path: req.url ?? '', type: req.headers['content-type'] ?? '', body: Buffer.concat(chunks) });
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
        arrived();
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
    try {
      const app = await startTestApp({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_SERVICE_NAME: 'callwatch-otlp-test' });
      expect((await fetch(`${app.url}/health`)).status).toBe(200);
      // The batch is sent at the latest when the app closes.
      await app.stop();
      await arrival;
      expect(received[0]?.path).toBe('/v1/traces');
      const body = received.map((request) => request.body.toString('latin1')).join('');
      expect(body).toContain('callwatch-otlp-test');
      expect(body).toContain('GET /health');
    } finally {
      await new Promise((resolve) => collector.close(resolve));
    }
  });
});
