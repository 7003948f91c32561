import { beforeAll, describe, expect, it } from 'vitest';
import { callUsageAtEnd, emptyRealtimeTokens, type CallLatency, type CallUsage } from '../../src/core/call-usage.ts';
import { priceTable } from '../../src/core/prices.ts';
import { createCall } from '../support/factories.ts';
import { graphql, useApiTenant } from '../support/graphql.ts';

/**
 * `callStats`' turn latency percentiles, cost and days, over seeded calls of known latency
 * and cost, in the business's time zone (Asia/Jerusalem, UTC+2 in November).
 */

function latency(turnMs: number[]): CallLatency {
  return { greetingMs: 700, turns: turnMs.length, turnP50Ms: null, turnP95Ms: null, turnMaxMs: null, openaiFirstAudioP50Ms: null, openaiFirstAudioP95Ms: null, interruptions: 0, turnMs };
}

function usage(estimatedCostUsd: number): CallUsage {
  return { ...callUsageAtEnd(emptyRealtimeTokens(), { inputSec: 0, outputSec: 0 }, 'gpt-realtime-1.5', priceTable()), realtimeCostUsd: estimatedCostUsd, estimatedCostUsd };
}

const statsQuery = `query($from: DateTime!, $to: DateTime!) { callStats(from: $from, to: $to) {
  total turnLatencyP50Ms turnLatencyP95Ms estimatedCostUsd
  byDay { day calls completed failed byStatus { status count } estimatedCostUsd turnLatencyP50Ms turnLatencyP95Ms }
} }`;
/** Local (Asia/Jerusalem) 10–13 November 2026. */
const period = { from: '2026-11-09T22:00:00Z', to: '2026-11-13T22:00:00Z' };

describe('callStats: turn latency and cost', () => {
  const api = useApiTenant();

  beforeAll(async () => {
    const em = api.app.services.orm.em;
    const business = api.tenant.businessId;
    await createCall(em, business, { createdAt: new Date('2026-11-10T08:00:00Z'), status: 'completed', latency: latency([100, 200, 300]), usage: usage(0.05) });
    // 23:30 in Jerusalem: still the 10th there.
    await createCall(em, business, { createdAt: new Date('2026-11-10T21:30:00Z'), status: 'failed', latency: latency([400]), usage: usage(0.02) });
    // 00:30 on the 11th in Jerusalem, though still the 10th in UTC.
    await createCall(em, business, { createdAt: new Date('2026-11-10T22:30:00Z'), status: 'completed', latency: latency([1000, 2000]), usage: usage(0.1) });
    // Before usage was measured: counted, no cost, no turns.
    await createCall(em, business, { createdAt: new Date('2026-11-12T10:00:00Z'), status: 'no-answer' });
    // Outside the period.
    await createCall(em, business, { createdAt: new Date('2026-11-13T22:00:00Z'), status: 'completed', latency: latency([9000]), usage: usage(5) });
  });

  it('percentiles over every turn of the period’s calls, the cost total, and each local day with its outcomes — days without calls included', async () => {
    const { data, errors } = await graphql(api.app.url, api.tenant.keys.viewer, statsQuery, period);
    expect(errors).toBeUndefined();
    expect(data!.callStats).toEqual({
      total: 4,
      // [100, 200, 300, 400, 1000, 2000], interpolated as percentile_cont.
      turnLatencyP50Ms: 350,
      turnLatencyP95Ms: 1750,
      estimatedCostUsd: 0.17,
      byDay: [
        {
          day: '2026-11-10',
          calls: 2,
          completed: 1,
          failed: 1,
          byStatus: [{ status: 'COMPLETED', count: 1 }, { status: 'FAILED', count: 1 }],
          estimatedCostUsd: 0.07,
          turnLatencyP50Ms: 250,
          turnLatencyP95Ms: 385,
        },
        { day: '2026-11-11', calls: 1, completed: 1, failed: 0, byStatus: [{ status: 'COMPLETED', count: 1 }], estimatedCostUsd: 0.1, turnLatencyP50Ms: 1500, turnLatencyP95Ms: 1950 },
        { day: '2026-11-12', calls: 1, completed: 0, failed: 0, byStatus: [{ status: 'NO_ANSWER', count: 1 }], estimatedCostUsd: null, turnLatencyP50Ms: null, turnLatencyP95Ms: null },
        { day: '2026-11-13', calls: 0, completed: 0, failed: 0, byStatus: [], estimatedCostUsd: null, turnLatencyP50Ms: null, turnLatencyP95Ms: null },
      ],
    });
  });

  it('a period without measured calls has null percentiles and cost; a day the period only touches is a day of it', async () => {
    // 03:00 on 1 October to 03:00 on 3 October in Jerusalem (UTC+3 in summer time).
    const { data, errors } = await graphql(api.app.url, api.tenant.keys.viewer, statsQuery, { from: '2026-10-01T00:00:00Z', to: '2026-10-03T00:00:00Z' });
    expect(errors).toBeUndefined();
    expect(data!.callStats).toMatchObject({ total: 0, turnLatencyP50Ms: null, turnLatencyP95Ms: null, estimatedCostUsd: null });
    expect(data!.callStats.byDay.map((day: { day: string; calls: number }) => [day.day, day.calls])).toEqual([
      ['2026-10-01', 0],
      ['2026-10-02', 0],
      ['2026-10-03', 0],
    ]);
  });

  it('costs two statements with latency and cost asked for, one without, whatever the number of days', async () => {
    const resolverStatements = () => api.app.statements.filter((statement) => !statement.includes('api_keys'));
    api.app.statements.length = 0;
    expect((await graphql(api.app.url, api.tenant.keys.viewer, statsQuery, { from: '2026-01-01T00:00:00Z', to: '2027-01-01T00:00:00Z' })).errors).toBeUndefined();
    expect(resolverStatements()).toHaveLength(2);
    api.app.statements.length = 0;
    expect((await graphql(api.app.url, api.tenant.keys.viewer, 'query($from: DateTime!, $to: DateTime!) { callStats(from: $from, to: $to) { total } }', period)).errors).toBeUndefined();
    expect(resolverStatements()).toHaveLength(1);
  });
});
