import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../../src/entities/sql.ts';
import { productionEnvironment, startTestApp } from '../support/app.ts';
import { createCall, createLead } from '../support/factories.ts';
import { graphql, useApiTenant } from '../support/graphql.ts';

const pageWithRelations = `
  query Page($first: Int!) {
    calls(first: $first) {
      totalCount
      nodes {
        id callSid summary transcript { speaker text }
        lead { id fullName phone }
        appointments { id startsAt status }
        webhookDeliveries { id status attempts { statusCode } }
      }
    }
  }`;

describe('SQL statements per request', () => {
  const api = useApiTenant();
  beforeAll(async () => {
    const em = () => api.app.services.orm.em.fork();
    const start = Date.parse('2026-12-01T06:00:00Z');
    for (let index = 0; index < 120; index += 1) {
      const lead = await createLead(em(), { id: api.tenant.businessId });
      const call = await createCall(em(), api.tenant.businessId, { lead: lead.id });
      const slot = new Date(start + index * 3_600_000);
      await sql(em()).insertInto('Appointment').values({ business: api.tenant.businessId, lead: lead.id, call: call.id, startsAt: slot, endsAt: new Date(slot.getTime() + 1_800_000) }).execute();
      await sql(em())
        .insertInto('WebhookDelivery')
        .values({ business: api.tenant.businessId, call: call.id, event: 'call.completed', url: 'https://crm.example.com/hook', payload: {} })
        .execute();
    }
  });

  async function statementsFor(first: number): Promise<string[]> {
    api.app.statements.length = 0;
    const { data, errors } = await graphql(api.app.url, api.tenant.keys.viewer, pageWithRelations, { first });
    expect(errors, JSON.stringify(errors)).toBeUndefined();
    expect(data!.calls.nodes).toHaveLength(first);
    for (const node of data!.calls.nodes) {
      expect(node.lead).not.toBeNull();
      expect(node.appointments).toHaveLength(1);
      expect(node.webhookDeliveries).toHaveLength(1);
    }
    return [...api.app.statements];
  }

  it('is at most 4 for a page of 100 calls with lead, appointments and deliveries — the same as for 20', async () => {
    const twenty = await statementsFor(20);
    const hundred = await statementsFor(100);
    // Authentication, the page (calls + their leads + the total), appointments, deliveries.
    expect(hundred.length).toBeLessThanOrEqual(4);
    expect(hundred.length).toBe(twenty.length);
  });
});

describe('query limits', () => {
  const api = useApiTenant();

  it('rejects a too-deep query before running anything', async () => {
    const deep = '{ calls { nodes { lead { calls { lead { calls { lead { calls { lead { calls { id } } } } } } } } } } }';
    api.app.statements.length = 0;
    const { data, errors } = await graphql(api.app.url, api.tenant.keys.viewer, deep);
    expect(data).toBeUndefined();
    expect(errors?.map((error) => error.extensions?.code)).toContain('QUERY_DEPTH');
    // No resolver touched the database (at most the API key was looked up).
    expect(api.app.statements.filter((statement) => !statement.includes('api_keys'))).toEqual([]);
  });

  it('rejects a query whose cost (page sizes × selections) is too high', async () => {
    const costly = `{ a: calls(first: 100) { nodes { lead { calls { appointments { lead { calls { id summary } } } } } } } }`;
    const { data, errors } = await graphql(api.app.url, api.tenant.keys.viewer, costly);
    expect(data).toBeUndefined();
    expect(errors?.map((error) => error.extensions?.code)).toContain('QUERY_COMPLEXITY');
  });

  it('reports a typo as a typo, not as a cost', async () => {
    const { errors } = await graphql(api.app.url, api.tenant.keys.viewer, '{ calls { nodes { nope } } }');
    expect(errors).toHaveLength(1);
    expect(errors?.[0]?.message).toMatch(/nope/);
  });

  it('answers introspection outside production', async () => {
    const { data } = await graphql(api.app.url, null, '{ __schema { queryType { name } } }');
    expect(data?.__schema.queryType.name).toBe('Query');
  });
});

describe('introspection in production', () => {
  it('is off by default and GRAPHQL_INTROSPECTION=true turns it on', async () => {
    const production = productionEnvironment;
    for (const [introspection, expected] of [[undefined, false], ['true', true]] as const) {
      const app = await startTestApp(introspection ? { ...production, GRAPHQL_INTROSPECTION: introspection } : production);
      try {
        const { data, errors } = await graphql(app.url, null, '{ __schema { queryType { name } } }');
        expect(Boolean(data?.__schema)).toBe(expected);
        if (!expected) expect(errors?.[0]?.message).toMatch(/introspection/i);
        const graphiql = await fetch(`${app.url}/graphql`, { headers: { accept: 'text/html' } });
        expect((await graphiql.text()).includes('GraphiQL')).toBe(expected);
      } finally {
        await app.stop();
      }
    }
  });
});
