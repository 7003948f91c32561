import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { GraphQLError, type DocumentNode, type ExecutionArgs } from 'graphql';
import type { SubscribePayload } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import type { YogaServerInstance } from 'graphql-yoga';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { Services } from '../core/services.ts';
import type { LiveAccess } from './live-access.ts';
import type { GraphQLContext, SubscriberTransport } from '../schema/context.ts';
import { SharedSubscriptions } from './shared-subscriptions.ts';

/**
 * Over a socket there is no HTTP response; Callwatch's context factory reads only the
 * request's headers (server.ts), so operations get this stand-in for yoga's `res`.
 */
const noResponse = undefined as unknown as ServerResponse;

/** What graphql-ws hands to each operation: the enveloped execute/subscribe of yoga. */
interface Enveloped {
  execute: (args: ExecutionArgs) => unknown;
  subscribe: (args: ExecutionArgs) => unknown;
}

function isUnauthenticated(error: unknown): boolean {
  return error instanceof GraphQLError && error.extensions.code === 'UNAUTHENTICATED';
}

export interface GraphQLWebSocket {
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  close(): Promise<void>;
}

/**
 * GraphQL over WebSocket (the graphql-ws protocol) on /graphql, the port the HTTP API uses.
 * The API key comes in `connectionParams` (`{ apiKey }` or `{ authorization: "Bearer …" }`);
 * a connection without a valid key is closed with 4403 Forbidden at `connection_init`.
 * Operations run through yoga's own pipeline (its plugins, limits and error masking).
 *
 * A message is at most GRAPHQL_MAX_BODY_BYTES, like an HTTP body: `ws` refuses a larger
 * frame before reading it whole and closes the socket with 1009 (Message Too Big) — the
 * RFC 6455 code for exactly this; nothing of the frame is parsed, so there is no operation
 * id to answer. A `subscribe` whose document cannot be parsed — over GRAPHQL_MAX_TOKENS,
 * or a syntax error — is answered with an `error` message for its id, and the socket and
 * its other subscriptions carry on; so is every other failure of one operation (invalid
 * variables, a payload that is not an operation, an unexpected throw, masked).
 *
 * The socket is held under its key (LiveAccess): revoking the key closes it with 4403 on
 * whichever instance holds it. An operation sent with a key revoked meanwhile closes it
 * with 4403 too.
 */
export function createGraphQLWebSocket(
  services: Services,
  yoga: YogaServerInstance<{ req: IncomingMessage; res: ServerResponse }, GraphQLContext>,
  live: LiveAccess,
): GraphQLWebSocket {
  const { metrics } = services;
  const server = new WebSocketServer({ noServer: true, maxPayload: services.config.graphqlLimits.maxBodyBytes });
  // Subscribers of one call's events with the same selection share one execution per event.
  const shared = new SharedSubscriptions();
  const acknowledged = new WeakSet<WebSocket>();
  const authorizationOf = (params: Record<string, unknown> | undefined): string | undefined => {
    if (typeof params?.authorization === 'string') return params.authorization;
    if (typeof params?.apiKey === 'string') return `Bearer ${params.apiKey}`;
    return undefined;
  };
  const disposable = useServer<Record<string, unknown> | undefined, { authorization?: string }>(
    {
      onConnect: async (ctx) => {
        const authorization = authorizationOf(ctx.connectionParams);
        if (!authorization) return false;
        ctx.extra.authorization = authorization;
        // The key is checked once here; each operation checks it again with its context.
        let auth: GraphQLContext['auth'];
        try {
          const context = await yoga.getEnveloped({ req: { headers: { authorization } } as IncomingMessage, res: noResponse }).contextFactory();
          auth = (context as GraphQLContext).auth;
        } catch {
          return false;
        }
        if (auth === null) return false;
        // Held from here until it closes. A revocation heard while the key was being checked
        // above is remembered by LiveAccess, and closes the socket at once.
        const socket = ctx.extra.socket;
        const release = live.hold(auth, () => socket.close(4403, 'API key revoked'));
        if (socket.readyState !== socket.OPEN) release();
        else socket.once('close', release);
        acknowledged.add(socket);
        return socket.readyState === socket.OPEN;
      },
      onSubscribe: async (ctx, _id, payload) => {
        // graphql-ws closes the whole socket with 4500 on a throw, ending every other
        // subscription on it: a failure of this operation is answered for its id instead.
        try {
          return await prepare(ctx.extra, payload);
        } catch (error) {
          if (isUnauthenticated(error)) {
            services.metrics.increment('subscriptions_revoked_closed_total');
            ctx.extra.socket.close(4403, 'API key revoked');
          }
          return [operationError(error)];
        }
      },
      execute: (args) => answerErrors(() => (args.rootValue as Enveloped).execute(args)) as never,
      subscribe: (args) => answerErrors(() => shared.subscribe(args, (own) => (own.rootValue as Enveloped).subscribe(own))) as never,
      onError: (_ctx, _id, _payload, errors) => services.logger.warn({ errors: errors.map((error) => error.message) }, 'graphql-ws operation failed'),
    },
    server,
  );
  /** The operation's execution arguments through yoga's pipeline, or its parse/validation errors. */
  async function prepare(extra: { authorization?: string; socket: WebSocket }, payload: SubscribePayload) {
    const req = { headers: { authorization: extra.authorization } } as unknown as IncomingMessage;
    const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({ req, res: noResponse, params: payload });
    const document: DocumentNode = parse(payload.query);
    const errors = validate(schema, document);
    if (errors.length > 0) return errors;
    const rootValue: Enveloped = { execute, subscribe };
    const socket = extra.socket;
    const transport: SubscriberTransport = { bufferedBytes: () => socket.bufferedAmount, close: (code, reason) => socket.close(code, reason) };
    const contextValue = Object.assign(await contextFactory(), { transport });
    return { schema, document, operationName: payload.operationName, variableValues: payload.variables, contextValue, rootValue };
  }

  /** Runs an operation; a throw becomes its result's error, so the socket carries on. */
  async function answerErrors(run: () => unknown): Promise<unknown> {
    try {
      return await run();
    } catch (error) {
      return { errors: [operationError(error)] };
    }
  }

  /** A GraphQL error as it is; anything else is logged and masked, as yoga masks it over HTTP. */
  function operationError(error: unknown): GraphQLError {
    if (error instanceof GraphQLError) return error;
    services.logger.error({ err: error }, 'graphql-ws operation threw');
    return new GraphQLError('Unexpected error.', { extensions: { code: 'INTERNAL_SERVER_ERROR' } });
  }

  return {
    handleUpgrade(req, socket, head) {
      server.handleUpgrade(req, socket, head, (ws) => {
        server.emit('connection', ws, req);
        // graphql-ws reports any socket error on stderr as a fault of the server's ("check your
        // implementation") and closes with 4500. A frame over the limit is the client's doing,
        // and `ws` has closed the socket with 1009 already: it is counted instead.
        const graphqlWsHandlers = ws.listeners('error') as ((error: Error) => void)[];
        ws.removeAllListeners('error');
        ws.on('error', (error: Error & { code?: string }) => {
          if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') return metrics.increment('graphql_request_too_large_total');
          for (const handler of graphqlWsHandlers) handler.call(ws, error);
        });
        // graphql-ws closes the socket (4400) on a `subscribe` whose payload is not an
        // operation (a query that is not a string, variables that are not an object). Once the
        // connection is acknowledged, that is one operation's fault: its id gets the error.
        const messageHandlers = ws.listeners('message') as ((data: RawData, isBinary: boolean) => void)[];
        ws.removeAllListeners('message');
        ws.on('message', (data: RawData, isBinary: boolean) => {
          const malformed = acknowledged.has(ws) ? malformedSubscribe(data) : null;
          if (malformed) return void ws.send(JSON.stringify({ id: malformed.id, type: 'error', payload: [{ message: malformed.problem, extensions: { code: 'BAD_REQUEST' } }] }));
          for (const handler of messageHandlers) handler.call(ws, data, isBinary);
        });
      });
    },
    async close() {
      // Disposing closes every client (1001 Going Away) and ends their subscriptions.
      await disposable.dispose();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * A `subscribe` message with an id whose payload graphql-ws would refuse as a protocol
 * violation: its id and what is wrong, or null (anything else, left to graphql-ws).
 */
export function malformedSubscribe(data: RawData): { id: string; problem: string } | null {
  let message: unknown;
  try {
    message = JSON.parse(String(data));
  } catch {
    return null;
  }
  if (!isRecord(message) || message.type !== 'subscribe' || typeof message.id !== 'string' || message.id === '') return null;
  const { payload } = message;
  const problem = !isRecord(payload)
    ? 'The subscribe payload must be an object.'
    : typeof payload.query !== 'string'
      ? '"query" must be a string.'
      : !optional(payload.variables, isRecord)
        ? '"variables" must be an object.'
        : !optional(payload.operationName, (value) => typeof value === 'string')
          ? '"operationName" must be a string.'
          : !optional(payload.extensions, isRecord)
            ? '"extensions" must be an object.'
            : null;
  return problem === null ? null : { id: message.id, problem };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function optional(value: unknown, valid: (value: unknown) => boolean): boolean {
  return value === undefined || value === null || valid(value);
}
