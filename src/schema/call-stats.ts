import { z } from 'zod';
import { callStats, type CallStats } from '../entities/call.repository.ts';
import { callLatencyAndCost, type CallDay, type CallLatencyCostStats } from '../entities/call-stats.repository.ts';
import { builder } from './builder.ts';
import { CallDirection, CallStatus } from './call.ts';
import { businessIdOf } from './context.ts';

const StatusCount = builder.objectRef<CallStats['byStatus'][number]>('CallStatusCount').implement({
  description: 'How many calls have one status.',
  fields: (t) => ({ status: t.expose('status', { type: CallStatus, description: 'The status.' }), count: t.exposeInt('count', { description: 'Calls with it.' }) }),
});
const DirectionCount = builder.objectRef<CallStats['byDirection'][number]>('CallDirectionCount').implement({
  description: 'How many calls went one way.',
  fields: (t) => ({ direction: t.expose('direction', { type: CallDirection, description: 'The direction.' }), count: t.exposeInt('count', { description: 'Calls that way.' }) }),
});
const ValueCount = builder.objectRef<CallStats['topCities'][number]>('ValueCount').implement({
  description: 'How many calls have one extracted value.',
  fields: (t) => ({ value: t.exposeString('value', { description: 'The value, as extracted.' }), count: t.exposeInt('count', { description: 'Calls with it.' }) }),
});

/** The counts, and the latency and cost statement run only when one of its fields is asked for (once). */
type CallStatsShape = CallStats & { latencyAndCost: () => Promise<CallLatencyCostStats> };

const CallDayRef = builder.objectRef<CallDay>('CallDay').implement({
  description: 'One day of the period in the business’s time zone: its calls, their outcomes, cost and turn latency (a Stats chart’s point).',
  fields: (t) => ({
    day: t.exposeString('day', { description: 'The date, YYYY-MM-DD, in the business’s time zone.' }),
    calls: t.exposeInt('calls', { description: 'Calls created that day.' }),
    completed: t.int({ description: 'Of them, calls that ended COMPLETED.', resolve: (day) => countOf(day, 'completed') }),
    failed: t.int({ description: 'Of them, calls that ended FAILED (the line failed, or the voice agent was lost).', resolve: (day) => countOf(day, 'failed') }),
    byStatus: t.field({ type: [StatusCount], description: 'The day’s calls by status (statuses with none left out).', resolve: (day) => day.byStatus }),
    estimatedCostUsd: t.exposeFloat('estimatedCostUsd', { nullable: true, description: 'The day’s calls’ estimated OpenAI cost in US dollars (Call.usage); null when none has a usage.' }),
    turnLatencyP50Ms: t.exposeInt('turnLatencyP50Ms', { nullable: true, description: 'Median turn latency over every turn of the day’s calls; null without turns.' }),
    turnLatencyP95Ms: t.exposeInt('turnLatencyP95Ms', { nullable: true, description: '95th percentile turn latency over every turn of the day’s calls; null without turns.' }),
  }),
});

const CallStatsRef = builder.objectRef<CallStatsShape>('CallStats').implement({
  description: 'Counts over the calls created in a period, with their turn latency and cost.',
  fields: (t) => ({
    total: t.exposeInt('total', { description: 'Calls created in the period.' }),
    byStatus: t.field({ type: [StatusCount], description: 'The calls by status (statuses with none left out).', resolve: (stats) => stats.byStatus }),
    byDirection: t.field({ type: [DirectionCount], description: 'The calls by direction (directions with none left out).', resolve: (stats) => stats.byDirection }),
    averageDurationSec: t.exposeFloat('averageDurationSec', { nullable: true, description: 'Null when no call has a duration.' }),
    topCities: t.field({ type: [ValueCount], description: 'The 5 most frequent extracted cities.', resolve: (stats) => stats.topCities }),
    topServices: t.field({ type: [ValueCount], description: 'The 5 most frequent service categories.', resolve: (stats) => stats.topServices }),
    turnLatencyP50Ms: t.int({
      nullable: true,
      description:
        'Median turn latency (caller stops speaking → the agent’s first audio) over every turn of every call in the period — each wait weighs the same, so long calls count by their turns; a call’s first 500 turns. Null without turns.',
      resolve: async (stats) => (await stats.latencyAndCost()).turnLatencyP50Ms,
    }),
    turnLatencyP95Ms: t.int({
      nullable: true,
      description: '95th percentile turn latency over every turn of every call in the period (as turnLatencyP50Ms). Null without turns.',
      resolve: async (stats) => (await stats.latencyAndCost()).turnLatencyP95Ms,
    }),
    estimatedCostUsd: t.float({
      nullable: true,
      description: 'The period’s calls’ estimated OpenAI cost in US dollars (the sum of Call.usage.estimatedCostUsd); null when no call has a usage.',
      resolve: async (stats) => (await stats.latencyAndCost()).estimatedCostUsd,
    }),
    byDay: t.field({
      type: [CallDayRef],
      description: 'Every day of the period in the business’s time zone, oldest first, days without calls included (zero).',
      resolve: async (stats) => (await stats.latencyAndCost()).byDay,
    }),
  }),
});

/** Longest period one `callStats` request may cover. */
const maxPeriodDays = 400;

builder.queryField('callStats', (t) =>
  t.field({
    type: CallStatsRef,
    authScopes: { reader: true },
    description: `Counts of the calls created in [from, to) (at most ${maxPeriodDays} days).`,
    args: t.validate(
      { from: t.arg({ type: 'DateTime', required: true, description: 'Start of the period (inclusive).' }), to: t.arg({ type: 'DateTime', required: true, description: 'End of the period (exclusive), after from.' }) },
      z
        .object({ from: z.date(), to: z.date() })
        .refine((args) => args.to > args.from, { message: 'must be after from', path: ['to'] })
        .refine((args) => args.to.getTime() - args.from.getTime() <= maxPeriodDays * 86_400_000, {
          message: `the period must be at most ${maxPeriodDays} days`,
          path: ['to'],
        }),
    ),
    resolve: async (_root, args, ctx) => {
      const businessId = businessIdOf(ctx);
      let latencyAndCost: Promise<CallLatencyCostStats> | undefined;
      // At most two statements: the counts, and latency and cost only when asked for.
      return { ...(await callStats(ctx.em, businessId, args.from, args.to)), latencyAndCost: () => (latencyAndCost ??= callLatencyAndCost(ctx.em, businessId, args.from, args.to)) };
    },
  }),
);

function countOf(day: CallDay, status: CallDay['byStatus'][number]['status']): number {
  return day.byStatus.find((entry) => entry.status === status)?.count ?? 0;
}
