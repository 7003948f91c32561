import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { GraphQLError, type DocumentNode, type ExecutionArgs } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import type { YogaServerInstance } from 'graphql-yoga';
import { WebSocketServer } from 'ws';
import type { Services } from './core/services.ts';
import type { GraphQLContext, SubscriberTransport } from './schema/context.ts';
import { SharedSubscriptions } from './schema/shared-subscriptions.ts';

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
 * its other subscriptions carry on.
 */
export function createGraphQLWebSocket(
  services: Services,
  yoga: YogaServerInstance<{ req: IncomingMessage; res: ServerResponse }, GraphQLContext>,
): GraphQLWebSocket {
  const { metrics } = services;
  const server = new WebSocketServer({ noServer: true, maxPayload: services.config.graphqlLimits.maxBodyBytes });
  // Subscribers of one call's events with the same selection share one execution per event.
  const shared = new SharedSubscriptions();
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
        try {
          const context = await yoga.getEnveloped({ req: { headers: { authorization } } as IncomingMessage, res: noResponse }).contextFactory();
          return (context as GraphQLContext).auth !== null;
        } catch {
          return false;
        }
      },
      onSubscribe: async (ctx, _id, payload) => {
        const req = { headers: { authorization: ctx.extra.authorization } } as unknown as IncomingMessage;
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({ req, res: noResponse, params: payload });
        let document: DocumentNode;
        try {
          document = parse(payload.query);
        } catch (error) {
          // graphql-ws would close the whole socket with 4500 on a throw.
          if (error instanceof GraphQLError) return [error];
          throw error;
        }
        const errors = validate(schema, document);
        if (errors.length > 0) return errors;
        const rootValue: Enveloped = { execute, subscribe };
        const socket = ctx.extra.socket;
        const transport: SubscriberTransport = { bufferedBytes: () => socket.bufferedAmount, close: (code, reason) => socket.close(code, reason) };
        const contextValue = Object.assign(await contextFactory(), { transport });
        return { schema, document, operationName: payload.operationName, variableValues: payload.variables, contextValue, rootValue };
      },
      execute: (args) => (args.rootValue as Enveloped).execute(args) as never,
      subscribe: (args) => shared.subscribe(args, (own) => (own.rootValue as Enveloped).subscribe(own)) as never,
      onError: (_ctx, _id, _payload, errors) => services.logger.warn({ errors: errors.map((error) => error.message) }, 'graphql-ws operation failed'),
    },
    server,
  );
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
      });
    },
    async close() {
      // Disposing closes every client (1001 Going Away) and ends their subscriptions.
      await disposable.dispose();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
