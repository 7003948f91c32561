import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createComplexityRule } from '@pothos/plugin-complexity';
import { getOperationAST, GraphQLError, Kind, NoSchemaIntrospectionCustomRule, OperationTypeNode, validate } from 'graphql';
import { createYoga, type Plugin } from 'graphql-yoga';
import { AppError } from './core/errors.ts';
import { checkReadiness } from './core/health.ts';
import type { Services } from './core/services.ts';
import type { Realtime } from './realtime/index.ts';
import { DocumentCache, documentCachePlugin, noErrorCache } from './graphql/document-cache.ts';
import { documentLimitsPlugin } from './graphql/document-limits.ts';
import { readGraphQLRequestBody } from './graphql/request-body.ts';
import { LiveAccess, liveAccessPlugin } from './graphql/live-access.ts';
import { corsPolicy, hasGraphQLMediaType, hideSuggestionsPlugin, quietJsonErrorsPlugin, refuseMediaType } from './graphql/http-policy.ts';
import { createGraphQLWebSocket } from './graphql/ws.ts';
import { graphqlTracingPlugin, traceRequest } from './http-tracing.ts';
import { closeMetricsServer, createMetricsHandler, startMetricsServer } from './metrics-endpoint.ts';
import { createMonitorHandler } from './monitor/serve.ts';
import { createContext, type GraphQLContext } from './schema/context.ts';
import { schema } from './schema/index.ts';

export interface HttpServer {
  /** Base URL the server listens on, e.g. http://127.0.0.1:3000. */
  url: string;
  port: number;
  /** Base URL of the METRICS_PORT listener, when there is one. */
  metricsUrl: string | undefined;
  /**
   * Shutdown has begun: /ready answers 503 from now on, so load balancers send new traffic
   * elsewhere, while the server still listens — for the calls' webhooks and media streams,
   * and for calls routed here before the balancer noticed.
   */
  drain: () => void;
  /**
   * Stops accepting connections, lets in-flight requests finish, then closes the rest.
   * Media streams are not waited for here: the calls' owner ends them first.
   */
  close: (timeoutMs?: number) => Promise<void>;
}

/**
 * Starts the HTTP server: /graphql (yoga over HTTP and SSE, graphql-ws over WebSocket),
 * the supervisor console at /monitor (where / leads), /health, /ready, /metrics (or that on
 * a METRICS_PORT listener of its own), and the call path — Twilio's webhooks and the
 * /twilio/media websocket.
 */
export async function startServer(services: Services, realtime: Realtime): Promise<HttpServer> {
  const { config, logger } = services;

  // Sockets and SSE streams held open by API keys: revoking a key ends them (on every instance).
  const live = new LiveAccess(services);
  const yoga = createGraphQLHandler(services, live);
  const graphqlWs = createGraphQLWebSocket(services, yoga, live);
  const monitor = createMonitorHandler();
  const serveMetrics = createMetricsHandler(services);
  const limits = config.http;
  let draining = false;

  // Node applies the header and request timeouts to a request until it has been received
  // (408 and close); an upgraded socket (graphql-ws, /twilio/media) has left HTTP by then
  // and is exempt, as is a response still streaming (SSE). The timeouts are checked every
  // connectionsCheckingInterval, so it is kept well under the shorter of them.
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs) / 4))),
    },
    (req, res) => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      traceRequest(req, res, path);
      if (path === '/graphql') {
        if (!hasGraphQLMediaType(req)) return refuseMediaType(res);
        return void readGraphQLRequestBody(req, res, config.graphqlLimits.maxBodyBytes).then((outcome) => {
          if (outcome === 'read') return yoga(req, res);
          if (outcome === 'refused') services.metrics.increment('graphql_request_too_large_total');
        });
      }
      if (path === '/monitor' || path.startsWith('/monitor/')) return monitor(req, res, path);
      if (req.method === 'GET' && path === '/') {
        res.writeHead(302, { location: '/monitor' });
        return void res.end();
      }
      if (path.startsWith('/twilio/')) {
        return void realtime.handleHttp(req, res, path).then((handled) => {
          if (!handled) sendJson(res, 404, { error: 'not found', path });
        });
      }
      if (path === '/metrics' && config.metrics.port === undefined) return serveMetrics(req, res);
      if (req.method === 'GET' && path === '/health') return sendJson(res, 200, { status: 'ok' });
      if (req.method === 'GET' && path === '/ready') {
        if (draining) return sendJson(res, 503, { ready: false, draining: true });
        return void checkReadiness(services).then(
          (readiness) => sendJson(res, readiness.ready ? 200 : 503, readiness),
          () => sendJson(res, 503, { ready: false }),
        );
      }
      sendJson(res, 404, { error: 'not found', path });
    },
  );
  // Over the cap, Node closes a new connection as soon as it is accepted ('drop').
  server.maxConnections = limits.maxConnections;
  server.on('drop', () => services.metrics.increment('http_connections_refused_total'));

  server.on('upgrade', (req, socket, head) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path === '/graphql') return graphqlWs.handleUpgrade(req, socket, head);
    if (!realtime.handleUpgrade(req, socket, head, path)) socket.destroy();
  });

  await listen(server, config.port);
  const { port } = server.address() as AddressInfo;
  logger.info({ port, publicUrl: config.publicUrl }, 'http server listening');
  const metricsServer =
    config.metrics.port === undefined
      ? undefined
      : await startMetricsServer(config.metrics.port, serveMetrics).catch((error: unknown) => {
          server.close();
          throw error;
        });
  if (metricsServer) logger.info({ port: (metricsServer.address() as AddressInfo).port }, 'metrics server listening');
  const closed = new Promise<void>((resolve) => server.once('close', () => resolve()));
  const stopAccepting = () => {
    if (server.listening) server.close();
  };
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    metricsUrl: metricsServer ? `http://127.0.0.1:${(metricsServer.address() as AddressInfo).port}` : undefined,
    drain() {
      draining = true;
    },
    async close(timeoutMs = config.shutdownTimeoutMs) {
      stopAccepting();
      await live.close();
      if (metricsServer) await closeMetricsServer(metricsServer);
      await graphqlWs.close();
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), timeoutMs);
      try {
        await closed;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** Limits every operation must pass before it runs (enforced during validation). */
export const queryLimits = { maxDepth: 10, maxBreadth: 300, maxComplexity: 40_000 };

/**
 * /graphql over HTTP (GET/POST, and SSE for subscriptions). Every request gets its own
 * unit of work and loaders; documents over GRAPHQL_MAX_TOKENS are refused while parsing
 * (bodies over GRAPHQL_MAX_BODY_BYTES before it, in startServer); depth and cost are
 * checked before execution; introspection and GraphiQL follow GRAPHQL_INTROSPECTION. The
 * parse cache is bounded and keeps only valid documents.
 */
function createGraphQLHandler(services: Services, live: LiveAccess) {
  const { config, logger, metrics } = services;
  const documents = new DocumentCache();
  metrics.gauge('graphql_document_cache_entries', () => documents.size);
  metrics.gauge('graphql_document_cache_tokens', () => documents.tokens);
  return createYoga<{ req: IncomingMessage; res: ServerResponse }, GraphQLContext>({
    schema,
    graphqlEndpoint: '/graphql',
    graphiql: config.graphqlIntrospection,
    landingPage: false,
    cors: corsPolicy(config.corsOrigins),
    logging: logger.child({ component: 'graphql' }),
    context: ({ req }) => createContext(services, { requestId: requestIdOf(req), authorization: req.headers.authorization }),
    // The body has been read within the limit already; yoga's own check is a second guard.
    maxRequestBodySize: config.graphqlLimits.maxBodyBytes,
    parserAndValidationCache: { documentCache: documents, errorCache: noErrorCache },
    plugins: [
      documentLimitsPlugin(config.graphqlLimits.maxTokens, metrics),
      documentCachePlugin(documents),
      limitsPlugin(config.graphqlIntrospection),
      ...(config.graphqlIntrospection ? [] : [hideSuggestionsPlugin()]),
      quietJsonErrorsPlugin(),
      mutationsNeedAKey(),
      liveAccessPlugin(live),
      graphqlTracingPlugin(),
    ],
  });
}

/**
 * Rejects operations over the depth/breadth/cost limits, and introspection when it is off —
 * during validation, so nothing runs. The limits are measured only on a document that
 * passed GraphQL's own rules: a typo is reported as a typo, not as a cost.
 */
function limitsPlugin(introspection: boolean): Plugin {
  return {
    onValidate({ addValidationRule, params, context }) {
      if (!introspection) addValidationRule(NoSchemaIntrospectionCustomRule);
      return ({ valid, result, setResult }) => {
        if (!valid) return;
        const request = (context as { params?: { variables?: Record<string, unknown> | null; operationName?: string | null } }).params;
        const rule = createComplexityRule({
          context,
          variableValues: request?.variables ?? {},
          operationName: request?.operationName,
          ...queryLimits,
        });
        const errors = validate(params.schema, params.documentAST, [rule]);
        if (errors.length > 0) setResult([...result, ...errors]);
      };
    },
  };
}

/**
 * A mutation without an API key is refused before anything runs — before input validation
 * too, which otherwise answers first (validation precedes authorisation in the resolver
 * chain). One UNAUTHENTICATED error per root field, as scope auth would report it.
 */
function mutationsNeedAKey(): Plugin<GraphQLContext> {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      if (args.contextValue.auth !== null) return;
      const operation = getOperationAST(args.document, args.operationName);
      if (operation?.operation !== OperationTypeNode.MUTATION) return;
      const fields = operation.selectionSet.selections.flatMap((selection) =>
        selection.kind === Kind.FIELD ? [selection.alias?.value ?? selection.name.value] : [],
      );
      setResultAndStopExecution({
        data: null,
        errors: fields.map(
          (field) =>
            new GraphQLError('Send an API key: Authorization: Bearer <key>.', { path: [field], extensions: { code: 'UNAUTHENTICATED' } }),
        ),
      });
    },
  };
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      const reason =
        error.code === 'EADDRINUSE'
          ? `port ${port} is already in use (set PORT to a free port)`
          : error.code === 'EACCES'
            ? `no permission to listen on port ${port}`
            : error.message;
      reject(new AppError('STARTUP_FAILED', `http server: ${reason}`, { cause: error }));
    };
    server.once('error', onError);
    server.listen(port, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function requestIdOf(req: IncomingMessage): string {
  const header = req.headers['x-request-id'];
  return typeof header === 'string' && /^[\w.-]{1,64}$/.test(header) ? header : randomUUID();
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
