import type DataLoader from 'dataloader';
import { GraphQLError } from 'graphql';
import { z } from 'zod';
import type { ApiKeyRole } from '../core/auth.ts';
import { bearerChallenge, secretsEqual } from '../core/auth.ts';
import type { EntityManager } from '../core/db.ts';
import type { Logger } from '../core/logger.ts';
import type { Services } from '../core/services.ts';
import { authenticateApiKey } from '../entities/api-key.repository.ts';
import { createLoaders, type LoaderOptions, type Loaders } from '../loaders/index.ts';

/** Who is asking: a business's API key with its role, or the platform operator's key. */
export type Auth = { kind: 'business'; businessId: string; role: ApiKeyRole; apiKeyId: string; prefix: string } | { kind: 'platform' };

/** What every resolver receives. Built once per request. */
export interface GraphQLContext {
  services: Services;
  requestId: string;
  logger: Logger;
  /** Null when the request carried no key (only introspection and `health` answer then). */
  auth: Auth | null;
  /** This request's unit of work; nothing in it outlives the request. */
  em: EntityManager;
  loaders: Loaders;
  /** The subscriber's socket, for subscriptions over graphql-ws (back-pressure); absent over HTTP. */
  transport?: SubscriberTransport;
}

/** What a subscription may know of the socket it streams to. */
export interface SubscriberTransport {
  /** Bytes queued on the socket and not yet sent: grows when the subscriber reads too slowly. */
  bufferedBytes(): number;
  close(code: number, reason: string): void;
}

/**
 * Builds a request's context from its `Authorization` header. No header: anonymous. A key
 * that is unknown, revoked or malformed: a 401 with code UNAUTHENTICATED — a wrong key is
 * a mistake worth saying out loud, not a silent downgrade to anonymous.
 */
export async function createContext(
  services: Services,
  request: { requestId: string; authorization: string | null | undefined },
  loaderOptions: LoaderOptions = {},
): Promise<GraphQLContext> {
  const em = services.orm.em.fork();
  const auth = await authenticate(services, em, request.authorization);
  const logger = services.logger.child({
    requestId: request.requestId,
    ...(auth?.kind === 'business' ? { businessId: auth.businessId, apiKeyId: auth.apiKeyId } : {}),
  });
  return { services, requestId: request.requestId, logger, auth, em, loaders: createLoaders(em, loaderOptions) };
}

async function authenticate(services: Services, em: EntityManager, header: string | null | undefined): Promise<Auth | null> {
  if (header === undefined || header === null || header === '') return null;
  const key = /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
  if (key === undefined) throw unauthenticated('The Authorization header must be "Bearer <API key>".', 'invalid_request');
  if (secretsEqual(key, services.config.adminApiKey)) return { kind: 'platform' };
  const identity = key.startsWith('cw_') ? await authenticateApiKey(em, key) : null;
  if (!identity) throw unauthenticated('This API key is not valid (unknown or revoked).', 'invalid_token');
  return { kind: 'business', ...identity };
}

function unauthenticated(message: string, error: 'invalid_token' | 'invalid_request'): GraphQLError {
  const headers = { 'www-authenticate': bearerChallenge('callwatch', error) };
  return new GraphQLError(message, { extensions: { code: 'UNAUTHENTICATED', http: { status: 401, headers } } });
}

/** The business the request's key belongs to; only call from fields scoped to `reader`. */
export function businessIdOf(ctx: GraphQLContext): string {
  if (ctx.auth?.kind !== 'business') throw new Error('businessIdOf: the field is not scoped to a business key');
  return ctx.auth.businessId;
}

const uuid = z.uuid();

/**
 * The row `loader` finds for `id` when it belongs to the request's business, else null —
 * so an id of another business (or no id at all) looks exactly like one that does not exist.
 */
export async function ownRow<R extends { business: string }>(
  ctx: GraphQLContext,
  loader: DataLoader<string, R | null>,
  id: string,
): Promise<R | null> {
  if (!uuid.safeParse(id).success) return null;
  const row = await loader.load(id);
  return row?.business === businessIdOf(ctx) ? row : null;
}
