/**
 * Benchmark only — the "off" side of `bench:relay`'s A/B: Callwatch (`src/main.ts`, same
 * environment) with its metrics made as cheap as they can be, since configuration cannot
 * turn them off. Every Metrics method the running code calls (`increment`,
 * `incrementLabeled`, `adjust`, `observe`, `gauge`, `gaugeLabeled`) does nothing, and
 * prom-client's default process metrics (event-loop delay monitor, GC observer) are never
 * started: `src/core/metrics.ts` gets a prom-client whose `collectDefaultMetrics` does
 * nothing. Tracing is off by leaving OTEL_EXPORTER_OTLP_ENDPOINT unset, as in production.
 * The per-call meter still runs: Call.latency and Call.usage are the call's record, not
 * telemetry. Never imported by src/.
 */
import { registerHooks } from 'node:module';

const metricsModule = new URL('../src/core/metrics.ts', import.meta.url).href;
const withoutProcessMetrics = new URL('./support/prom-client-without-process-metrics.ts', import.meta.url).href;

registerHooks({
  resolve(specifier, context, nextResolve) {
    if (specifier === 'prom-client' && context.parentURL === metricsModule) return { url: withoutProcessMetrics, shortCircuit: true };
    return nextResolve(specifier, context);
  },
});

const { Metrics } = await import('../src/core/metrics.ts');
const nothing = () => {};
for (const name of ['increment', 'incrementLabeled', 'adjust', 'observe', 'gauge', 'gaugeLabeled'] as const) {
  Object.defineProperty(Metrics.prototype, name, { value: nothing });
}
await import('../src/main.ts');
