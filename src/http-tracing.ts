import type { IncomingMessage, ServerResponse } from 'node:http';
import { getOperationAST } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { ATTR_HTTP_REQUEST_METHOD, ATTR_HTTP_RESPONSE_STATUS_CODE, ATTR_HTTP_ROUTE } from '@opentelemetry/semantic-conventions';
import { contextOf, endSpan, SpanKind, startSpan, tracingEnabled, type Span } from './core/tracing.ts';

/**
 * Spans of the HTTP server: one per request (method, route, status) and one per GraphQL
 * operation (its type and name), the operation's a child of its request's. Only the route
 * is recorded — never the URL's query string (a token may ride in it), a header or a body.
 * With tracing off nothing here runs beyond one boolean check per request.
 */

/** Each request's span while it runs, for the GraphQL operation it carries. */
const requestSpans = new WeakMap<IncomingMessage, Span>();

/** Opens the request's span; it ends when the response is sent (or the connection closes first). */
export function traceRequest(req: IncomingMessage, res: ServerResponse, path: string): void {
  if (!tracingEnabled()) return;
  const method = req.method ?? 'GET';
  const route = routeOf(path);
  const span = startSpan(`${method} ${route}`, { kind: SpanKind.SERVER, attributes: { [ATTR_HTTP_REQUEST_METHOD]: method, [ATTR_HTTP_ROUTE]: route } });
  requestSpans.set(req, span);
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, res.statusCode);
    endSpan(span, res.statusCode >= 500 ? `HTTP ${res.statusCode}` : res.writableFinished ? undefined : 'the connection closed before the response was sent');
  };
  res.once('finish', end);
  res.once('close', end);
}

/** The route a path belongs to: a fixed set, so no id, token or number in a path becomes a span name. */
export function routeOf(path: string): string {
  if (path === '/graphql' || path === '/metrics' || path === '/health' || path === '/ready' || path === '/') return path;
  if (path === '/monitor' || path.startsWith('/monitor/')) return '/monitor/*';
  if (twilioRoutes.has(path)) return path;
  return 'unmatched';
}

const twilioRoutes = new Set(['/twilio/voice', '/twilio/status', '/twilio/amd', '/twilio/recording', '/twilio/media']);

/**
 * A span per GraphQL operation executed or subscribed to (`graphql query CallList`): the
 * operation's type and name, whether it answered errors (their count, not their text).
 * Variables and the document are never recorded.
 */
export function graphqlTracingPlugin(): Plugin {
  const start = (args: { document: Parameters<typeof getOperationAST>[0]; operationName?: string | null; contextValue: unknown }): Span | undefined => {
    if (!tracingEnabled()) return undefined;
    const operation = getOperationAST(args.document, args.operationName);
    const type = operation?.operation ?? 'unknown';
    const name = operation?.name?.value;
    const request = requestSpans.get((args.contextValue as { req?: IncomingMessage }).req as IncomingMessage);
    return startSpan(`graphql ${type}${name ? ` ${name}` : ''}`, {
      parent: request && contextOf(request),
      attributes: { 'graphql.operation.type': type, ...(name ? { 'graphql.operation.name': name } : {}) },
    });
  };
  const finish = (span: Span, result: unknown) => {
    const errors = (result as { errors?: readonly unknown[] } | null)?.errors?.length ?? 0;
    if (errors > 0) span.setAttribute('graphql.error_count', errors);
    endSpan(span, errors > 0 ? 'the operation answered errors' : undefined);
  };
  return {
    onExecute({ args }) {
      const span = start(args);
      if (!span) return;
      return { onExecuteDone: ({ result }) => finish(span, result) };
    },
    onSubscribe({ args }) {
      const span = start(args);
      if (!span) return;
      return { onSubscribeResult: ({ result }) => finish(span, result), onSubscribeError: () => endSpan(span, 'the subscription failed') };
    },
  };
}
