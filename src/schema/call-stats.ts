import { z } from 'zod';
import { callStats, type CallStats } from '../entities/call.repository.ts';
import { builder } from './builder.ts';
import { CallDirection, CallStatus } from './call.ts';
import { businessIdOf } from './context.ts';

const StatusCount = builder.objectRef<CallStats['byStatus'][number]>('CallStatusCount').implement({
  fields: (t) => ({ status: t.expose('status', { type: CallStatus }), count: t.exposeInt('count') }),
});
const DirectionCount = builder.objectRef<CallStats['byDirection'][number]>('CallDirectionCount').implement({
  fields: (t) => ({ direction: t.expose('direction', { type: CallDirection }), count: t.exposeInt('count') }),
});
const ValueCount = builder.objectRef<CallStats['topCities'][number]>('ValueCount').implement({
  fields: (t) => ({ value: t.exposeString('value'), count: t.exposeInt('count') }),
});

const CallStatsRef = builder.objectRef<CallStats>('CallStats').implement({
  description: 'Counts over the calls created in a period.',
  fields: (t) => ({
    total: t.exposeInt('total'),
    byStatus: t.field({ type: [StatusCount], resolve: (stats) => stats.byStatus }),
    byDirection: t.field({ type: [DirectionCount], resolve: (stats) => stats.byDirection }),
    averageDurationSec: t.exposeFloat('averageDurationSec', { nullable: true, description: 'Null when no call has a duration.' }),
    topCities: t.field({ type: [ValueCount], description: 'The 5 most frequent extracted cities.', resolve: (stats) => stats.topCities }),
    topServices: t.field({ type: [ValueCount], description: 'The 5 most frequent service categories.', resolve: (stats) => stats.topServices }),
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
      { from: t.arg({ type: 'DateTime', required: true }), to: t.arg({ type: 'DateTime', required: true }) },
      z
        .object({ from: z.date(), to: z.date() })
        .refine((args) => args.to > args.from, { message: 'must be after from', path: ['to'] })
        .refine((args) => args.to.getTime() - args.from.getTime() <= maxPeriodDays * 86_400_000, {
          message: `the period must be at most ${maxPeriodDays} days`,
          path: ['to'],
        }),
    ),
    resolve: (_root, args, ctx) => callStats(ctx.em, businessIdOf(ctx), args.from, args.to),
  }),
);
