import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../support/app.ts';
import { createTenant, graphql, type Tenant } from '../../support/graphql.ts';

/**
 * Every 401 says how to authenticate (RFC 6750 §3): `WWW-Authenticate: Bearer realm=…`,
 * with `error="invalid_token"` when the request sent a key that was refused.
 */

const metricsToken = 'm'.repeat(40);
const unknownKey = `cw_${'A'.repeat(32)}`;

describe('WWW-Authenticate on every 401', () => {
  let app: TestApp;
  let tenant: Tenant;
  beforeAll(async () => {
    app = await startTestApp({ ROLE: 'api', METRICS_TOKEN: metricsToken });
    tenant = await createTenant(app.services.orm.em);
  });
  afterAll(() => app?.stop());

  const post = (authorization: string | null, query: string, accept = 'application/json') =>
    fetch(`${app.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept, ...(authorization ? { authorization } : {}) },
      body: JSON.stringify({ query }),
    });
  const challengeOf = async (response: Response) => {
    await response.body?.cancel();
    return { status: response.status, challenge: response.headers.get('www-authenticate') };
  };

  it.each([
    ['an unknown key', `Bearer ${unknownKey}`, 'Bearer realm="callwatch", error="invalid_token"'],
    ['something that is no key at all', 'Bearer let-me-in', 'Bearer realm="callwatch", error="invalid_token"'],
    ['a header that is not Bearer', 'Basic dXNlcjpwYXNz', 'Bearer realm="callwatch", error="invalid_request"'],
  ])('POST /graphql with %s', async (_what, authorization, challenge) => {
    const response = await post(authorization, '{ viewer { role } }');
    expect({ status: response.status, challenge: response.headers.get('www-authenticate') }).toEqual({ status: 401, challenge });
    // The header travels in the error's extensions inside the server, never in the body.
    expect(((await response.json()) as { errors: { extensions: unknown }[] }).errors.map((error) => error.extensions)).toEqual([{ code: 'UNAUTHENTICATED' }]);
  });

  it('GET /graphql with an unknown key', async () => {
    const response = await fetch(`${app.url}/graphql?query=${encodeURIComponent('{ viewer { role } }')}`, { headers: { accept: 'application/json', authorization: `Bearer ${unknownKey}` } });
    expect(await challengeOf(response)).toEqual({ status: 401, challenge: 'Bearer realm="callwatch", error="invalid_token"' });
  });

  it('a key from the moment it is revoked', async () => {
    const created = await graphql(app.url, tenant.keys.admin, 'mutation { createApiKey(input: { name: "temp", role: VIEWER }) { ... on CreateApiKeyPayload { key apiKey { id } } } }');
    const { key, apiKey } = created.data?.createApiKey;
    await graphql(app.url, tenant.keys.admin, 'mutation($id: ID!) { revokeApiKey(id: $id) { __typename } }', { id: apiKey.id });
    expect(await challengeOf(await post(`Bearer ${key}`, '{ viewer { role } }'))).toEqual({ status: 401, challenge: 'Bearer realm="callwatch", error="invalid_token"' });
  });

  it('a subscription over SSE without a key, and with an unknown one', async () => {
    const subscription = 'subscription { liveCalls { type } }';
    expect(await challengeOf(await post(null, subscription, 'text/event-stream'))).toEqual({ status: 401, challenge: 'Bearer realm="callwatch"' });
    expect(await challengeOf(await post(`Bearer ${unknownKey}`, subscription, 'text/event-stream'))).toEqual({
      status: 401,
      challenge: 'Bearer realm="callwatch", error="invalid_token"',
    });
  });

  it('GET /metrics without the token, and with a wrong one', async () => {
    expect(await challengeOf(await fetch(`${app.url}/metrics`))).toEqual({ status: 401, challenge: 'Bearer realm="metrics"' });
    expect(await challengeOf(await fetch(`${app.url}/metrics`, { headers: { authorization: 'Bearer wrong' } }))).toEqual({
      status: 401,
      challenge: 'Bearer realm="metrics", error="invalid_token"',
    });
  });

  it('no challenge where no key is needed: an anonymous query is answered 200', async () => {
    expect(await challengeOf(await post(null, '{ __typename }'))).toEqual({ status: 200, challenge: null });
  });
});
