/**
 * prom-client as bench/callwatch-metrics-off.ts hands it to `src/core/metrics.ts`: all of
 * it, except that default process metrics are never started.
 */
export * from 'prom-client';

export function collectDefaultMetrics(): void {}
