import type { EntityManager } from '@mikro-orm/postgresql';
import { sql as raw } from 'kysely';
import { callStatuses, type CallStatus } from './call.entity.ts';
import { sql } from './sql.ts';

/** One day of a business's calls (in its time zone), for a chart. */
export interface CallDay {
  /** YYYY-MM-DD in the business's time zone. */
  day: string;
  calls: number;
  byStatus: { status: CallStatus; count: number }[];
  /** Sum of the day's calls' estimated cost; null when none of them has a usage. */
  estimatedCostUsd: number | null;
  /** Over every turn of the day's calls; null without turns. */
  turnLatencyP50Ms: number | null;
  turnLatencyP95Ms: number | null;
}

/** Latency and cost over a business's calls created in a period. */
export interface CallLatencyCostStats {
  /** Over every turn of every call in the period (each call's first 500); null without turns. */
  turnLatencyP50Ms: number | null;
  turnLatencyP95Ms: number | null;
  /** Sum of the calls' estimated cost; null when none has a usage. */
  estimatedCostUsd: number | null;
  /** Every day of the period, in the business's time zone, those without calls included (zero). */
  byDay: CallDay[];
}

interface Row {
  kind: 'day' | 'status' | 'turns';
  day: string | null;
  status: CallStatus | null;
  calls: number | null;
  cost: number | null;
  p50: number | null;
  p95: number | null;
}

/**
 * Turn latency percentiles and cost of a business's calls created in [from, to), over the
 * whole period and day by day in the business's time zone — one statement.
 *
 * The percentiles are over all turns (each call's `latency.turnMs`, unnested), not over
 * per-call medians: every wait a caller sat through weighs the same, so a few long calls
 * with slow turns show in the p95 as they felt, where a median of medians would let a
 * two-turn call count as much as a forty-turn one. `percentile_cont` interpolates as
 * `Call.latency`'s own figures do.
 */
export async function callLatencyAndCost(em: EntityManager, businessId: string, from: Date, to: Date): Promise<CallLatencyCostStats> {
  const { rows } = await raw<Row>`
    with zone as (select "timezone" as name from "businesses" where "id" = ${businessId}),
    c as (
      select "status", "usage", "latency", ("created_at" at time zone (select name from zone))::date as day
      from "calls"
      where "business_id" = ${businessId} and "created_at" >= ${from}::timestamptz and "created_at" < ${to}::timestamptz
    ),
    days as (
      select generate_series(
        (${from}::timestamptz at time zone (select name from zone))::date,
        ((${to}::timestamptz - interval '1 microsecond') at time zone (select name from zone))::date,
        interval '1 day'
      )::date as day
    ),
    by_status as (
      select day, "status", count(*)::int as calls, sum(("usage"->>'estimatedCostUsd')::float8) as cost
      from c group by grouping sets ((day, "status"), ())
    ),
    turns as (
      select day,
        percentile_cont(0.5) within group (order by turn.ms::float8) as p50,
        percentile_cont(0.95) within group (order by turn.ms::float8) as p95
      from c cross join lateral jsonb_array_elements_text(c."latency"->'turnMs') as turn(ms)
      group by grouping sets ((day), ())
    )
    select 'day' as kind, day::text as day, null::text as status, null::int as calls, null::float8 as cost, null::float8 as p50, null::float8 as p95 from days
    union all select 'status', day::text, "status", calls, cost, null, null from by_status
    union all select 'turns', day::text, null, null, null, p50, p95 from turns
  `.execute(sql(em));

  const byDay = new Map<string, CallDay>();
  for (const row of rows) if (row.kind === 'day' && row.day) byDay.set(row.day, { day: row.day, calls: 0, byStatus: [], estimatedCostUsd: null, turnLatencyP50Ms: null, turnLatencyP95Ms: null });
  let estimatedCostUsd: number | null = null;
  let turns: Row | undefined;
  for (const row of rows) {
    const day = row.day === null ? undefined : byDay.get(row.day);
    if (row.kind === 'status') {
      if (row.day === null) estimatedCostUsd = roundCost(row.cost);
      else if (day && row.status) {
        day.calls += row.calls ?? 0;
        day.byStatus.push({ status: row.status, count: row.calls ?? 0 });
        if (row.cost !== null) day.estimatedCostUsd = (day.estimatedCostUsd ?? 0) + row.cost;
      }
    } else if (row.kind === 'turns') {
      if (row.day === null) turns = row;
      else if (day) Object.assign(day, { turnLatencyP50Ms: roundMs(row.p50), turnLatencyP95Ms: roundMs(row.p95) });
    }
  }
  const order = (status: CallStatus) => callStatuses.indexOf(status);
  const days = [...byDay.values()].sort((a, b) => a.day.localeCompare(b.day));
  for (const day of days) {
    day.byStatus.sort((a, b) => order(a.status) - order(b.status));
    day.estimatedCostUsd = roundCost(day.estimatedCostUsd);
  }
  return { turnLatencyP50Ms: roundMs(turns?.p50 ?? null), turnLatencyP95Ms: roundMs(turns?.p95 ?? null), estimatedCostUsd, byDay: days };
}

function roundMs(value: number | null): number | null {
  return value === null ? null : Math.round(value);
}

function roundCost(value: number | null): number | null {
  return value === null ? null : Math.round(value * 10_000) / 10_000;
}
