import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { family, scrapeMetrics } from '../support/prometheus-text.ts';

/**
 * A ROLE=worker process has no HTTP server; with METRICS_PORT it serves /metrics on a
 * listener of its own, under the same METRICS_TOKEN rule as the API.
 */

const token = 'w'.repeat(40);

describe('/metrics of a worker', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ ROLE: 'worker', METRICS_PORT: '0', METRICS_TOKEN: token });
  });
  afterAll(() => app?.stop());

  it('is served on METRICS_PORT with the token: the job counters, queue depth and process metrics', async () => {
    expect(app.http).toBeUndefined();
    expect(app.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const refused = await fetch(`${app.metricsUrl}/metrics`);
    expect(refused.status).toBe(401);
    const families = await scrapeMetrics(app.metricsUrl!, { authorization: `Bearer ${token}` });
    expect(family(families, 'callwatch_pipeline_runs_total').type).toBe('COUNTER');
    expect(family(families, 'callwatch_webhook_attempt_seconds').type).toBe('HISTOGRAM');
    expect(family(families, 'callwatch_queue_jobs').metrics.length).toBeGreaterThan(0);
    family(families, 'process_cpu_seconds_total');
    // What only the API role has is not reported as zero by a worker.
    expect(families.find((parsed) => parsed.name === 'callwatch_active_calls')).toBeUndefined();
    expect((await fetch(`${app.metricsUrl}/graphql`)).status).toBe(404);
  });
});

describe('a worker without METRICS_PORT', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ ROLE: 'worker' });
  });
  afterAll(() => app?.stop());

  it('serves no /metrics', () => {
    expect(app.metricsUrl).toBeUndefined();
  });
});
