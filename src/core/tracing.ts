import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span, type TimeInput, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, SimpleSpanProcessor, TracerProvider, type SpanExporter } from '@opentelemetry/sdk-trace';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { isAppError } from './errors.ts';

/**
 * OpenTelemetry traces, exported over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set.
 *
 * Unset, nothing is registered: `tracer()` is the API's no-op tracer, its spans do not
 * record, and `tracingEnabled()` is false so callers skip even building attributes. Spans
 * are made per call, turn, tool run, job, pipeline step, HTTP request and GraphQL
 * operation — never per audio frame.
 *
 * Invariant: no span name, attribute or event carries a phone number, transcript text,
 * prompt or instructions, or a caller's name (test/e2e/tracing.test.ts checks a scripted call).
 * Parents are passed explicitly (no async context manager): the call path does not pay for
 * AsyncLocalStorage.
 */

export { SpanKind, SpanStatusCode, type Attributes, type Context, type Span };

const tracerName = 'callwatch';
const exportTimeoutMs = 5000;
const propagator = new W3CTraceContextPropagator();

let active: TracerProvider | undefined;

export interface TracingOptions {
  /** OTEL_EXPORTER_OTLP_ENDPOINT: the collector's base URL; spans go to `<endpoint>/v1/traces`. */
  endpoint: string | undefined;
  /** OTEL_SERVICE_NAME. */
  serviceName: string;
  /** Tests: spans go here, one at a time as they end, instead of (or without) an OTLP endpoint. */
  exporter?: SpanExporter;
}

export interface Tracing {
  /** Exports what is buffered, then unregisters the provider (the API is a no-op again). */
  shutdown: () => Promise<void>;
}

/**
 * Registers the process's tracer provider when there is somewhere to send spans; returns
 * undefined (and registers nothing) otherwise. One provider per process: a second start
 * before the first's shutdown throws.
 */
export function startTracing(options: TracingOptions): Tracing | undefined {
  if (options.endpoint === undefined && options.exporter === undefined) return undefined;
  if (active) throw new Error('tracing has started already');
  const spanProcessors = [];
  if (options.endpoint !== undefined) {
    // A collector that does not answer holds a batch (and the shutdown's flush) this long at most.
    const exporter = new OTLPTraceExporter({ url: `${options.endpoint}/v1/traces`, timeoutMillis: exportTimeoutMs });
    spanProcessors.push(new BatchSpanProcessor({ exporter, exportTimeoutMillis: exportTimeoutMs }));
  }
  if (options.exporter) spanProcessors.push(new SimpleSpanProcessor({ exporter: options.exporter }));
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: options.serviceName, [ATTR_SERVICE_VERSION]: '0.1.0' }),
    spanProcessors,
  });
  trace.setGlobalTracerProvider(provider);
  active = provider;
  return {
    async shutdown() {
      try {
        await provider.shutdown();
      } finally {
        if (active === provider) {
          trace.disable();
          active = undefined;
        }
      }
    },
  };
}

/** A tracer provider is registered: spans record and are exported. */
export function tracingEnabled(): boolean {
  return active !== undefined;
}

/** Callwatch's tracer (the API's no-op one when tracing is off). */
export function tracer(): Tracer {
  return trace.getTracer(tracerName);
}

/** Starts a span under `parent` (a context holding a span), or a new trace's root. */
export function startSpan(name: string, options: { parent?: Context; kind?: SpanKind; attributes?: Attributes; startTime?: TimeInput } = {}): Span {
  const { parent, ...spanOptions } = options;
  return tracer().startSpan(name, spanOptions, parent ?? ROOT_CONTEXT);
}

/** A context whose span is `span`, to pass as a child's parent. */
export function contextOf(span: Span): Context {
  return trace.setSpan(ROOT_CONTEXT, span);
}

/** Ends `span`, marked as an error with `message` (no more than the caller chose to say) when given. */
export function endSpan(span: Span, error?: string, endTime?: TimeInput): void {
  if (error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: error });
  span.end(endTime);
}

/** The W3C `traceparent` of `span` (for a job's data); undefined when it does not record (tracing off, or ended). */
export function traceparentOf(span: Span): string | undefined {
  if (!span.isRecording()) return undefined;
  const carrier: Record<string, string> = {};
  propagator.inject(contextOf(span), carrier, { set: (target, key, value) => void (target[key] = value) });
  return carrier.traceparent;
}

const traceparentPattern = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** The parent context a W3C `traceparent` names (a job's data is parsed here); undefined when it is absent or malformed. */
export function contextFromTraceparent(traceparent: unknown): Context | undefined {
  if (typeof traceparent !== 'string' || !traceparentPattern.test(traceparent)) return undefined;
  const context = propagator.extract(ROOT_CONTEXT, { traceparent }, { get: (carrier, key) => carrier[key as 'traceparent'], keys: () => ['traceparent'] });
  return trace.getSpan(context) ? context : undefined;
}

/** Milliseconds since the epoch, to the microsecond: a span time that a turn's parts can be subtracted from. */
export function nowMs(): number {
  return epochMsOf(performance.now());
}

/** A `performance.now()` reading (what CallMeter's times are) as a span time: ms since the epoch. */
export function epochMsOf(performanceNowMs: number): number {
  return performance.timeOrigin + performanceNowMs;
}

/**
 * Runs `run` inside a span of its own: ended when it settles, marked as an error with the
 * error's code (an AppError's, else INTERNAL — never its message, which may quote data).
 */
export async function inSpan<T>(name: string, options: Parameters<typeof startSpan>[1], run: (span: Span) => Promise<T>): Promise<T> {
  const span = startSpan(name, options);
  try {
    const result = await run(span);
    span.end();
    return result;
  } catch (error) {
    endSpan(span, isAppError(error) ? error.code : 'INTERNAL');
    throw error;
  }
}
