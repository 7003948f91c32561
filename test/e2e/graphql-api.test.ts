import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../../src/entities/sql.ts';
import { createCall, createLead } from '../support/factories.ts';
import { createTenant, graphql, startApiApp, type GraphQLResponse, type Tenant } from '../support/graphql.ts';

type App = Awaited<ReturnType<typeof startApiApp>>;

const callsPage = `
  query Calls($first: Int, $after: String, $filter: CallFilter) {
    calls(first: $first, after: $after, filter: $filter) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes { id callSid }
    }
  }`;

let app: App;
beforeAll(async () => {
  app = await startApiApp();
});
afterAll(() => app.stop());

const em = () => app.services.orm.em.fork();

describe('calls: pagination', () => {
  let tenant: Tenant;
  beforeAll(async () => {
    tenant = await createTenant(em());
    const base = Date.parse('2026-11-01T08:00:00Z');
    // Seven calls, two of them created in the same millisecond (the id breaks the tie).
    for (const [index, offset] of [0, 1, 2, 3, 3, 4, 5].entries()) {
      await createCall(em(), tenant.businessId, { createdAt: new Date(base + offset * 60_000), summary: `call ${index}` });
    }
  });

  async function walk(first: number, during?: () => Promise<void>): Promise<string[]> {
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 20; page += 1) {
      const { data, errors }: GraphQLResponse = await graphql(app.url, tenant.keys.viewer, callsPage, { first, after });
      expect(errors).toBeUndefined();
      seen.push(...data!.calls.nodes.map((node: { id: string }) => node.id));
      if (page === 0) await during?.();
      if (!data!.calls.pageInfo.hasNextPage) return seen;
      after = data!.calls.pageInfo.endCursor;
    }
    throw new Error('pagination did not end');
  }

  it('walks every call exactly once, newest first, with a total count', async () => {
    const all = await walk(100);
    expect(all).toHaveLength(7);
    expect(await walk(3)).toEqual(all);
    expect(await walk(1)).toEqual(all);
    const { data } = await graphql(app.url, tenant.keys.viewer, callsPage, { first: 2 });
    expect(data!.calls.totalCount).toBe(7);
  });

  it('has no duplicates or gaps when calls arrive while a client pages', async () => {
    const before = await walk(100);
    const seen = await walk(2, async () => {
      await createCall(em(), tenant.businessId, { summary: 'arrived while paging' });
      await createCall(em(), tenant.businessId, { summary: 'arrived while paging' });
    });
    expect(seen).toEqual(before);
  });

  it('caps the page size and rejects a cursor it did not hand out, with field errors', async () => {
    const tooBig = await graphql(app.url, tenant.keys.viewer, callsPage, { first: 101 });
    expect(tooBig.errors?.[0]?.extensions).toMatchObject({ code: 'VALIDATION_FAILED', fieldErrors: [{ path: ['first'], message: 'first must be at most 100' }] });
    const forged = await graphql(app.url, tenant.keys.viewer, callsPage, { after: 'bm90LWEtY3Vyc29y' });
    expect(forged.errors?.[0]?.extensions).toMatchObject({ code: 'VALIDATION_FAILED', fieldErrors: [{ path: ['after'] }] });
  });
});

describe('calls: filters', () => {
  let tenant: Tenant;
  const ids: Record<string, string> = {};
  beforeAll(async () => {
    tenant = await createTenant(em());
    const lead = await createLead(em(), { id: tenant.businessId }, { fullName: 'משה כהן' });
    const at = (day: number) => new Date(Date.UTC(2026, 10, day, 9));
    ids.haifa = (await createCall(em(), tenant.businessId, {
      createdAt: at(2),
      extractedCity: 'חיפה',
      extractedService: 'שיפוץ מטבח',
      summary: 'הלקוחה מעוניינת בשיפוץ מטבח',
      lead: lead.id,
    })).id;
    ids.telAviv = (await createCall(em(), tenant.businessId, {
      createdAt: at(5),
      extractedCity: 'תל אביב',
      extractedService: 'אינסטלציה',
      finalTranscript: 'נציג: שלום. לקוח: יש נזילה בצנרת באמבטיה',
    })).id;
    ids.outbound = (await createCall(em(), tenant.businessId, {
      createdAt: at(8),
      direction: 'outbound',
      status: 'no-answer',
      transcriptTurns: [{ speaker: 'caller', text: 'Hello, who is this?', at: at(8).toISOString() }],
    })).id;
  });

  const cases: [string, Record<string, unknown>, string[]][] = [
    ['date range', { from: '2026-11-04T00:00:00Z', to: '2026-11-06T00:00:00+00:00' }, ['telAviv']],
    ['direction', { direction: 'OUTBOUND' }, ['outbound']],
    ['status', { status: ['NO_ANSWER', 'BUSY'] }, ['outbound']],
    ['lead', {}, ['haifa']],
    ['city', { city: 'חיפה' }, ['haifa']],
    ['service category', { serviceCategory: 'אינסטלציה' }, ['telAviv']],
    ['search in the summary (Hebrew)', { search: 'מטבח' }, ['haifa']],
    ['search in the final transcript', { search: 'נזילה' }, ['telAviv']],
    ['search in the realtime transcript, any case', { search: 'WHO IS' }, ['outbound']],
    ['search with LIKE wildcards taken literally', { search: '%_' }, []],
  ];

  it.each(cases)('filters by %s', async (name, filter, expected) => {
    const withLead = name === 'lead' ? { leadId: await leadIdOf(ids.haifa!) } : {};
    const { data, errors } = await graphql(app.url, tenant.keys.viewer, callsPage, { filter: { ...filter, ...withLead } });
    expect(errors).toBeUndefined();
    expect(new Set(data!.calls.nodes.map((node: { id: string }) => node.id))).toEqual(new Set(expected.map((key) => ids[key])));
    expect(data!.calls.totalCount).toBe(expected.length);
  });

  async function leadIdOf(callId: string): Promise<string> {
    const row = await sql(em()).selectFrom('Call').select('lead').where('id', '=', callId).executeTakeFirstOrThrow();
    return row.lead!;
  }

  it.each([
    [{ leadId: 'nope' }, 'filter.leadId', 'is not a lead id'],
    [{ search: 'x' }, 'filter.search', 'must be at least 2 characters'],
    [{ from: 'yesterday' }, null, 'DateTime must be an ISO 8601 date-time'],
  ])('reports an invalid filter %j as a field error', async (filter, path, message) => {
    const { data, errors } = await graphql(app.url, tenant.keys.viewer, callsPage, { filter });
    expect(data ?? null).toBeNull();
    if (path === null) {
      expect(errors?.[0]?.message).toContain(message);
      return;
    }
    expect(errors?.[0]?.extensions).toMatchObject({ code: 'VALIDATION_FAILED', fieldErrors: [{ path: path.split('.'), message }] });
  });

  it('counts calls by status and direction, with average duration and top cities', async () => {
    const { data, errors } = await graphql(
      app.url,
      tenant.keys.viewer,
      `{ callStats(from: "2026-11-01T00:00:00Z", to: "2026-12-01T00:00:00Z") {
          total averageDurationSec byStatus { status count } byDirection { direction count }
          topCities { value count } topServices { value count } } }`,
    );
    expect(errors).toBeUndefined();
    expect(data!.callStats).toEqual({
      total: 3,
      averageDurationSec: 60,
      byStatus: expect.arrayContaining([{ status: 'COMPLETED', count: 2 }, { status: 'NO_ANSWER', count: 1 }]),
      byDirection: expect.arrayContaining([{ direction: 'INBOUND', count: 2 }, { direction: 'OUTBOUND', count: 1 }]),
      topCities: expect.arrayContaining([{ value: 'חיפה', count: 1 }, { value: 'תל אביב', count: 1 }]),
      topServices: expect.arrayContaining([{ value: 'שיפוץ מטבח', count: 1 }, { value: 'אינסטלציה', count: 1 }]),
    });
    const backwards = await graphql(app.url, tenant.keys.viewer, '{ callStats(from: "2026-12-01T00:00:00Z", to: "2026-11-01T00:00:00Z") { total } }');
    expect(backwards.errors?.[0]?.extensions).toMatchObject({ code: 'VALIDATION_FAILED', fieldErrors: [{ path: ['to'], message: 'must be after from' }] });
  });
});

describe('leads: filters and pagination', () => {
  let tenant: Tenant;
  const ids: Record<string, string> = {};
  const leadsPage = `query ($first: Int, $after: String, $filter: LeadFilter) {
    leads(first: $first, after: $after, filter: $filter) { totalCount pageInfo { hasNextPage endCursor } nodes { id } }
  }`;
  beforeAll(async () => {
    tenant = await createTenant(em());
    const add = async (key: string, values: Record<string, unknown>) => {
      const row = await sql(em())
        .insertInto('Lead')
        .values({ business: tenant.businessId, phone: `+97250${String(Object.keys(ids).length + 1).padStart(7, '0')}`, ...values })
        .returningAll()
        .executeTakeFirstOrThrow();
      ids[key] = row.id;
    };
    await add('dana', { fullName: 'דנה לוי', city: 'חיפה', serviceCategory: 'שיפוץ', status: 'qualified', createdAt: new Date('2026-10-01T10:00:00Z') });
    await add('yossi', { fullName: 'Yossi Cohen', city: 'תל אביב', serviceCategory: 'אינסטלציה', createdAt: new Date('2026-10-05T10:00:00Z') });
    await add('anon', { createdAt: new Date('2026-10-09T10:00:00Z') });
  });

  it.each([
    ['status', { status: ['QUALIFIED'] }, ['dana']],
    ['city', { city: 'תל אביב' }, ['yossi']],
    ['service category', { serviceCategory: 'שיפוץ' }, ['dana']],
    ['name, in Hebrew', { search: 'לוי' }, ['dana']],
    ['name, any case', { search: 'yossi' }, ['yossi']],
    ['phone digits as people type them', { search: '050-000-0003' }, ['anon']],
    ['creation date', { createdFrom: '2026-10-04T00:00:00Z', createdTo: '2026-10-06T00:00:00Z' }, ['yossi']],
  ])('filters by %s', async (_name, filter, expected) => {
    const { data, errors } = await graphql(app.url, tenant.keys.viewer, leadsPage, { filter });
    expect(errors).toBeUndefined();
    expect(data!.leads.nodes.map((node: { id: string }) => node.id).sort()).toEqual(expected.map((key) => ids[key]).sort());
    expect(data!.leads.totalCount).toBe(expected.length);
  });

  it('pages newest first with a cursor', async () => {
    const first = await graphql(app.url, tenant.keys.viewer, leadsPage, { first: 2 });
    expect(first.data!.leads.nodes.map((node: { id: string }) => node.id)).toEqual([ids.anon, ids.yossi]);
    const second = await graphql(app.url, tenant.keys.viewer, leadsPage, { first: 2, after: first.data!.leads.pageInfo.endCursor });
    expect(second.data!.leads).toMatchObject({ nodes: [{ id: ids.dana }], pageInfo: { hasNextPage: false } });
  });
});
