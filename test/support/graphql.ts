import type { EntityManager } from '@mikro-orm/postgresql';
import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll } from 'vitest';
import WebSocket from 'ws';
import { issueApiKey } from '../../src/entities/api-key.repository.ts';
import type { ApiKeyRole } from '../../src/core/auth.ts';
import { isHousekeeping, startTestApp, type TestApp } from './app.ts';
import { createBusiness } from './factories.ts';

export interface GraphQLResponse<T = Record<string, any>> {
  status: number;
  data: T | null | undefined;
  errors: { message: string; path?: (string | number)[]; extensions?: Record<string, any> }[] | undefined;
}

/** POSTs one operation to /graphql with `key` as the bearer token (no header when null). */
export async function graphql<T = Record<string, any>>(
  url: string,
  key: string | null,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<GraphQLResponse<T>> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: T | null; errors?: GraphQLResponse['errors'] };
  return { status: response.status, data: body.data, errors: body.errors };
}

/** A graphql-ws client of /graphql at `url` (lazy, no retries), with `apiKey` in connectionParams. */
export function graphqlWsClient(url: string, apiKey: string | null): Client {
  return createClient({
    url: `${url.replace('http', 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: apiKey ? { apiKey } : {},
    lazy: true,
    retryAttempts: 0,
  });
}

type Next = { data?: Record<string, any> | null; errors?: { message: string; extensions?: Record<string, unknown> }[] };

/** Collects a subscription's results until `stop()`. */
export function collect(c: Client, query: string, variables: Record<string, unknown> = {}) {
  const results: Next[] = [];
  const errors: unknown[] = [];
  const stop = c.subscribe<Record<string, any>>({ query, variables }, { next: (value) => void results.push(value as Next), error: (error) => void errors.push(error), complete: () => {} });
  return { results, errors, stop };
}

/** A business with one key per role. */
export interface Tenant {
  businessId: string;
  keys: Record<ApiKeyRole, string>;
}

export async function createTenant(em: EntityManager, name?: string): Promise<Tenant> {
  const business = await createBusiness(em, name ? { name } : {});
  const keys = {} as Record<ApiKeyRole, string>;
  for (const role of ['admin', 'supervisor', 'viewer'] as const) {
    keys[role] = (await issueApiKey(em.fork(), { businessId: business.id, role, name: role })).key;
  }
  return { businessId: business.id, keys };
}

/** The API on a database of its own, counting SQL statements (reset with `statements.length = 0`). */
export async function startApiApp(): Promise<TestApp & { statements: string[] }> {
  const statements: string[] = [];
  const app = await startTestApp({ ROLE: 'api' }, { onStatement: (sql) => isHousekeeping(sql) || statements.push(sql) });
  return Object.assign(app, { statements });
}

export interface ApiTenantContext {
  app: Awaited<ReturnType<typeof startApiApp>>;
  tenant: Tenant;
}

/**
 * Gives the calling test file (or describe block) the API on a database of its own and one
 * business with a key per role, started before its tests and stopped after them. Read the
 * fields inside tests.
 */
export function useApiTenant(): ApiTenantContext {
  const context = {} as ApiTenantContext;
  beforeAll(async () => {
    context.app = await startApiApp();
    context.tenant = await createTenant(context.app.services.orm.em);
  });
  afterAll(() => context.app?.stop());
  return context;
}
