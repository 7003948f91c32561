import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOtlpReceiver, type OtlpReceiver } from '../../bench/support/otlp-receiver.ts';
import { startRealtimeTap, type RealtimeTap } from '../../bench/support/realtime-tap.ts';
import { callwatch, type ScrapeTally, type Telemetry } from '../../bench/support/relay-targets.ts';
import { seedScenario } from '../../bench/support/scenario.ts';
import { useTestDatabase } from '../support/database.ts';
import { family, sampleOf, scrapeMetrics, type ParsedFamily } from '../support/prometheus-text.ts';

/**
 * bench:relay's metrics-and-tracing A/B (the benchmark itself runs outside `npm test`): the
 * "on" Callwatch exports its spans to the benchmark's OTLP receiver and is scraped; the
 * "off" one (bench/callwatch-metrics-off.ts) exports nothing and counts nothing, so the
 * difference the benchmark measures is the telemetry's.
 */

const apiKey = 'sk-bench-key';
const db = useTestDatabase();
let tap: RealtimeTap;
let otlp: OtlpReceiver;

beforeAll(async () => {
  tap = await startRealtimeTap({ apiKey });
  otlp = await startOtlpReceiver();
  await seedScenario(db.orm.em);
});

afterAll(async () => {
  await tap?.close();
  await otlp?.close();
});

/** One call through a Callwatch child with `telemetry`: set up, greeted, ended; returns /metrics as it was after the call, and the scrapes. */
async function oneCall(name: string, telemetry: Telemetry): Promise<{ metrics: ParsedFamily[]; scraped: ScrapeTally }> {
  const scraped: ScrapeTally = { scrapes: 0, failed: 0, bytes: 0 };
  const target = callwatch(tap, apiKey, db.database.url, db.orm, name, telemetry, scraped);
  const child = await target.start();
  try {
    const { caller } = await target.setUpCall(child.url, 0);
    caller.stop();
    await caller.close();
    await target.afterCalls?.();
    const metrics = await scrapeMetrics(child.url, { authorization: `Bearer ${child.metricsToken}` });
    return { metrics, scraped };
  } finally {
    // SIGTERM: the provider flushes its spans on the way out.
    expect(await child.stop()).toBe(0);
  }
}

const value = (metrics: ParsedFamily[], name: string) => Number(sampleOf(family(metrics, name))?.value ?? Number.NaN);

describe('bench:relay telemetry A/B', () => {
  it('the "off" Callwatch exports no span and counts nothing; the "on" one exports the call span and is scraped', { timeout: 60_000 }, async () => {
    const off = await oneCall('off', { kind: 'off' });
    expect(otlp.tally.requests).toBe(0);
    expect(value(off.metrics, 'callwatch_calls_started_total')).toBe(0);
    expect(value(off.metrics, 'callwatch_frames_to_twilio_total')).toBe(0);
    expect(off.metrics.some((f) => f.name === 'process_cpu_seconds_total')).toBe(false);

    const on = await oneCall('on', { kind: 'on', otlpUrl: otlp.url, scrapeEveryMs: 100 });
    expect(otlp.tally.names.get('call')).toBe(1);
    expect(otlp.tally.names.get('call.greeting')).toBe(1);
    expect(on.scraped.scrapes).toBeGreaterThan(0);
    expect(value(on.metrics, 'callwatch_calls_started_total')).toBe(1);
    expect(value(on.metrics, 'callwatch_frames_to_twilio_total')).toBeGreaterThan(0);
    expect(on.metrics.some((f) => f.name === 'process_cpu_seconds_total')).toBe(true);
  });
});
