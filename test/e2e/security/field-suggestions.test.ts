import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { productionEnvironment, startTestApp, type TestApp } from '../../support/app.ts';
import { collect, createTenant, graphql, graphqlWsClient, type Tenant } from '../../support/graphql.ts';
import { eventually } from '../../support/calls.ts';

/**
 * Threat: with introspection off in production, "Did you mean …?" in error messages still
 * spells out the schema, field by field, to anyone — anonymous callers too (security
 * review F10).
 * Defence: with introspection off, validation and execution leave the suggestions out,
 * over HTTP and over graphql-ws; the errors still say what is wrong.
 */

const typos = '{ viewer { busines } cals { id } }';

describe('field suggestions in production', () => {
  let app: TestApp;
  let tenant: Tenant;
  beforeAll(async () => {
    app = await startTestApp(productionEnvironment);
    tenant = await createTenant(app.services.orm.em);
  });
  afterAll(() => app?.stop());

  it('are left out of validation errors over HTTP, for anonymous and keyed requests', async () => {
    for (const key of [null, tenant.keys.viewer]) {
      const { status, errors } = await graphql(app.url, key, typos);
      expect(status).toBe(200);
      const messages = errors!.map((error) => error.message);
      expect(messages).toEqual(['Cannot query field "busines" on type "Viewer".', 'Cannot query field "cals" on type "Query".']);
    }
  });

  it('are left out when a variable names an enum value that does not exist', async () => {
    const { errors } = await graphql(app.url, tenant.keys.viewer, 'query ($s: [CallStatus!]) { calls(first: 1, filter: { status: $s }) { totalCount } }', { s: ['COMPLETE'] });
    expect(errors).toHaveLength(1);
    expect(errors![0]!.message).not.toContain('Did you mean');
  });

  it('are left out of graphql-ws errors', async () => {
    const client = graphqlWsClient(app.url, tenant.keys.viewer);
    try {
      const subscription = collect(client, 'subscription { liveCals { id } }');
      const [error] = await eventually(() => subscription.errors, (errors) => errors.length > 0, 'the error');
      expect(JSON.stringify(error)).toContain('Cannot query field \\"liveCals\\" on type \\"Subscription\\".');
      expect(JSON.stringify(error)).not.toContain('Did you mean');
    } finally {
      await client.dispose();
    }
  });
});
