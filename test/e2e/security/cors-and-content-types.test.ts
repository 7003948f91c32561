import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lead } from '../../../src/entities/lead.entity.ts';
import { productionEnvironment, startTestApp, type TestApp } from '../../support/app.ts';
import { createTenant, graphql, type Tenant } from '../../support/graphql.ts';

/**
 * Threat: a page on another origin uses a visitor's browser against /graphql — CORS that
 * reflects any Origin with credentials, and a form POST (which needs no preflight) that
 * runs a mutation; and a malformed body echoed back in the error (security review F11, F15).
 * Defence: no CORS headers unless CORS_ORIGINS lists the origin (then that origin alone,
 * never with credentials); a POST that is not a GraphQL media type is refused (415) before
 * it is read; a JSON parse error says so without quoting the body.
 */

const createLead = 'mutation { createLead(input: { phone: "0529876543", fullName: "Form Post" }) { __typename } }';

function preflight(url: string, origin: string) {
  return fetch(`${url}/graphql`, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
  });
}

describe('CORS and content types in production', () => {
  let app: TestApp;
  let withOrigins: TestApp;
  let tenant: Tenant;
  beforeAll(async () => {
    app = await startTestApp(productionEnvironment);
    withOrigins = await startTestApp({ ...productionEnvironment, CORS_ORIGINS: 'https://crm.example.com, https://ops.example.com' });
    tenant = await createTenant(app.services.orm.em);
  });
  afterAll(async () => {
    await app?.stop();
    await withOrigins?.stop();
  });

  it('sends no CORS headers without CORS_ORIGINS, to a preflight or a request', async () => {
    const answer = await preflight(app.url, 'https://evil.example');
    expect(answer.headers.get('access-control-allow-origin')).toBeNull();
    expect(answer.headers.get('access-control-allow-credentials')).toBeNull();
    const request = await fetch(`${app.url}/graphql`, {
      method: 'POST',
      headers: { origin: 'https://evil.example', 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(request.status).toBe(200);
    expect(request.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('answers only the origins CORS_ORIGINS lists, each with itself and without credentials', async () => {
    for (const origin of ['https://crm.example.com', 'https://ops.example.com']) {
      const answer = await preflight(withOrigins.url, origin);
      expect(answer.headers.get('access-control-allow-origin')).toBe(origin);
      expect(answer.headers.get('access-control-allow-credentials')).toBeNull();
      expect(answer.headers.get('vary')).toContain('Origin');
    }
    for (const origin of ['https://evil.example', 'https://crm.example.com.evil.example', 'null']) {
      const answer = await preflight(withOrigins.url, origin);
      expect(answer.headers.get('access-control-allow-origin')).toBeNull();
      expect(answer.headers.get('access-control-allow-credentials')).toBeNull();
    }
  });

  it('refuses (415) a form-encoded, multipart or text/plain POST, and the mutation does not run', async () => {
    const form = new FormData();
    form.set('query', createLead);
    const bodies: [string | undefined, BodyInit][] = [
      ['application/x-www-form-urlencoded', new URLSearchParams({ query: createLead }).toString()],
      [undefined, form],
      ['text/plain', JSON.stringify({ query: createLead })],
    ];
    for (const [contentType, body] of bodies) {
      const response = await fetch(`${app.url}/graphql`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tenant.keys.admin}`, ...(contentType ? { 'content-type': contentType } : {}) },
        body,
      });
      expect(response.status, contentType ?? 'multipart/form-data').toBe(415);
      expect(((await response.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    }
    expect(await app.services.orm.em.fork().count(Lead, { fullName: 'Form Post' })).toBe(0);
  });

  it('accepts application/json and the GraphQL media types', async () => {
    const json = await graphql(app.url, tenant.keys.viewer, '{ __typename }');
    expect(json.data).toEqual({ __typename: 'Query' });
    for (const contentType of ['application/graphql', 'application/json; charset=utf-8']) {
      const body = contentType === 'application/graphql' ? '{ __typename }' : JSON.stringify({ query: '{ __typename }' });
      const response = await fetch(`${app.url}/graphql`, { method: 'POST', headers: { 'content-type': contentType, accept: 'application/json' }, body });
      expect(await response.json(), contentType).toEqual({ data: { __typename: 'Query' } });
    }
  });

  it('answers a body that is not JSON with 400 and without quoting it', async () => {
    const body = '{"query": "{ __typename }", "secret-marker-7f3a": ';
    const response = await fetch(`${app.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' }, body });
    const text = await response.text();
    expect(response.status).toBe(400);
    expect(JSON.parse(text)).toEqual({ errors: [{ message: 'POST body sent invalid JSON.', extensions: { code: 'BAD_REQUEST' } }] });
    expect(text).not.toContain('secret-marker');
  });
});
