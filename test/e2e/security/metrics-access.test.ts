import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/core/config.ts';
import { isAppError } from '../../../src/core/errors.ts';
import { productionEnvironment, startTestApp, type TestApp } from '../../support/app.ts';

/**
 * Threat: anyone who can reach the API reads /metrics — call volumes, refusal and
 * bad-token counters (security review F12).
 * Defence: METRICS_TOKEN makes /metrics answer only `Authorization: Bearer <token>` (401
 * otherwise); METRICS_PORT serves it on a listener of its own and not on PORT; production
 * does not start with neither. Development and tests keep it open on PORT.
 */

const token = 't'.repeat(40);

async function scrape(url: string, authorization?: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`${url}/metrics`, { headers: authorization ? { authorization } : {} });
  return { status: response.status, body: await response.text() };
}

describe('/metrics with METRICS_TOKEN', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ ...productionEnvironment, METRICS_TOKEN: token });
  });
  afterAll(() => app?.stop());

  it('answers 401 without the token, with another token or scheme, and the counters with it', async () => {
    for (const authorization of [undefined, 'Bearer wrong', `Bearer ${token}x`, `Basic ${token}`, token]) {
      const { status, body } = await scrape(app.url, authorization);
      expect(status, authorization).toBe(401);
      expect(body).not.toContain('callwatch_');
    }
    const { status, body } = await scrape(app.url, `Bearer ${token}`);
    expect(status).toBe(200);
    expect(body).toContain('callwatch_metrics_unauthorized_total 5');
  });
});

describe('/metrics with METRICS_PORT', () => {
  let app: TestApp;
  beforeAll(async () => {
    // Port 0: a free port of its own, which the server reports.
    app = await startTestApp({ ...productionEnvironment, METRICS_TOKEN: '', METRICS_PORT: '0' });
  });
  afterAll(() => app?.stop());

  it('is served on its own port only', async () => {
    expect(app.http?.metricsUrl).toBeDefined();
    expect(app.http?.metricsUrl).not.toBe(app.url);
    const separate = await scrape(app.http!.metricsUrl!);
    expect(separate.status).toBe(200);
    expect(separate.body).toContain('callwatch_calls_started_total');
    expect((await scrape(app.url)).status).toBe(404);
    expect((await fetch(`${app.http!.metricsUrl!}/graphql`)).status).toBe(404);
  });
});

describe('/metrics in production without a token or a port', () => {
  it('stops start-up with one line naming both variables', () => {
    let error: unknown;
    try {
      loadConfig({ ...productionEnvironment, METRICS_TOKEN: '' });
    } catch (thrown) {
      error = thrown;
    }
    expect(isAppError(error, 'CONFIG_INVALID')).toBe(true);
    const message = (error as { userMessage: string }).userMessage;
    expect(message).toBe('METRICS_TOKEN or METRICS_PORT is required when NODE_ENV=production (/metrics is public otherwise)');
  });
});

describe('/metrics in development and tests', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(() => app?.stop());

  it('stays open on PORT', async () => {
    const { status, body } = await scrape(app.url);
    expect(status).toBe(200);
    expect(body).toContain('callwatch_calls_started_total');
  });
});
