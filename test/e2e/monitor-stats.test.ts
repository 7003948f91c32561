import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callUsageAtEnd, emptyRealtimeTokens, percentile, type CallLatency, type CallUsage } from '../../src/core/call-usage.ts';
import { priceTable } from '../../src/core/prices.ts';
import { artifactsDir, browserUnavailable, launchBrowser } from '../support/browser.ts';
import { createCall } from '../support/factories.ts';
import { createTenant, startApiApp, type Tenant } from '../support/graphql.ts';

/**
 * The console's pictures in a real browser (Debian's Chromium, headless): a finished call's
 * per-turn latency chart, and the Stats view drawn from `callStats` over seeded calls of
 * known latency and cost on known days of the business's time zone (Asia/Jerusalem).
 */

const unavailable = browserUnavailable();
if (unavailable) console.warn(`monitor stats browser test skipped: ${unavailable}`);

const zone = 'Asia/Jerusalem';
const dayMs = 86_400_000;

function latency(turnMs: number[], greetingMs = 700): CallLatency {
  return {
    greetingMs,
    turns: turnMs.length,
    turnP50Ms: percentile(turnMs, 0.5),
    turnP95Ms: percentile(turnMs, 0.95),
    turnMaxMs: turnMs.length ? Math.max(...turnMs) : null,
    openaiFirstAudioP50Ms: null,
    openaiFirstAudioP95Ms: null,
    interruptions: 1,
    turnMs,
  };
}

function usage(estimatedCostUsd: number): CallUsage {
  return { ...callUsageAtEnd(emptyRealtimeTokens(), { inputSec: 0, outputSec: 0 }, 'gpt-realtime-1.5', priceTable()), realtimeCostUsd: estimatedCostUsd, estimatedCostUsd };
}

/** The business's date of an instant, YYYY-MM-DD. */
const localDay = (instant: Date) => instant.toLocaleDateString('en-CA', { timeZone: zone });

describe.skipIf(unavailable)('the /monitor console: latency chart and Stats view', () => {
  let app: Awaited<ReturnType<typeof startApiApp>>;
  let busy: Tenant;
  let quiet: Tenant;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];
  // Instants relative to now, so they fall inside "the last 7 days" whenever the test runs.
  const now = Date.now();
  const yesterday = new Date(now - dayMs);
  const threeDaysAgo = new Date(now - 3 * dayMs);
  const tenDaysAgo = new Date(now - 10 * dayMs);
  const calls: Record<'measured' | 'older', string> = { measured: '', older: '' };

  beforeAll(async () => {
    app = await startApiApp();
    const em = app.services.orm.em;
    busy = await createTenant(em, 'Stats Renovations');
    quiet = await createTenant(em, 'Quiet Renovations');
    calls.measured = (await createCall(em, busy.businessId, { createdAt: yesterday, startedAt: yesterday, status: 'completed', latency: latency([100, 200, 300]), usage: usage(0.05) })).id;
    await createCall(em, busy.businessId, { createdAt: yesterday, status: 'failed', latency: latency([400]), usage: usage(0.02) });
    await createCall(em, busy.businessId, { createdAt: threeDaysAgo, status: 'completed', latency: latency([1000, 2000]), usage: usage(0.1) });
    // Written before latency was measured: counted, with no turns and no cost.
    calls.older = (await createCall(em, busy.businessId, { createdAt: threeDaysAgo, startedAt: threeDaysAgo, status: 'no-answer', durationSec: null })).id;
    // Only in the last 30 days.
    await createCall(em, busy.businessId, { createdAt: tenDaysAgo, status: 'completed', latency: latency([9000]), usage: usage(5) });

    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });

  const shot = (name: string) => page.screenshot({ path: join(artifactsDir, `monitor-${name}.png`), fullPage: true });
  /** A fresh tab (its own storage) signed in with `key`. */
  const signIn = async (key: string) => {
    await page?.context().close();
    const context = await browser.newContext({ locale: 'he-IL', viewport: { width: 1440, height: 1000 } });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });
    await page.goto(`${app.url}/monitor`);
    await page.locator('#api-key').fill(key);
    await page.keyboard.press('Enter');
    await page.locator('#connection[data-state="live"]').waitFor();
  };
  const days = () => page.locator('#stats-calls-chart [data-day]').evaluateAll((groups) => groups.map((group) => ({ ...(group as HTMLElement).dataset })));

  it('draws a finished call’s turn latency, greeting and p50/p95, with a table for screen readers', async () => {
    await signIn(busy.keys.viewer);
    expect(await page.evaluate(() => document.documentElement.dir)).toBe('rtl');
    await page.locator(`#recent-calls [data-call-id="${calls.measured}"]`).click();
    const chart = page.locator('#latency-chart svg');
    await chart.waitFor();
    expect(await chart.locator('[data-turn]').evaluateAll((bars) => bars.map((bar) => [bar.getAttribute('data-turn'), bar.getAttribute('data-ms')]))).toEqual([
      ['1', '100'],
      ['2', '200'],
      ['3', '300'],
    ]);
    expect(await chart.locator('[data-greeting]').getAttribute('data-ms')).toBe('700');
    expect(await chart.locator('[data-mark="p50"]').getAttribute('data-ms')).toBe('200');
    expect(await chart.locator('[data-mark="p95"]').getAttribute('data-ms')).toBe('290');
    // The picture has a name, and the numbers are there in words and as a table.
    expect(await chart.getAttribute('role')).toBe('img');
    const label = await chart.getAttribute('aria-label');
    expect(label).toContain('3');
    expect(label).toContain('200');
    const cells = await page.locator('#latency-table tbody tr').evaluateAll((rows) => rows.map((row) => [...(row as HTMLTableRowElement).cells].map((cell) => cell.textContent?.replace(/\D+/g, ''))));
    expect(cells).toEqual([['', '700'], ['1', '100'], ['2', '200'], ['3', '300']]);
    expect(await page.locator('#latency-summary').textContent()).toContain('0.05');
    await shot('latency-he');

    // An older call has no latency: a muted line says so, and no chart is drawn.
    await page.locator(`#recent-calls [data-call-id="${calls.older}"]`).click();
    await page.locator('#latency-none:not([hidden])').waitFor();
    expect(await page.locator('#latency-chart svg').count()).toBe(0);
    expect(await page.locator('#latency-none').textContent()).toBe('לא נמדד זמן תגובה בשיחה הזו.');
  });

  it('shows calls per day by outcome, turn latency p50/p95 and cost, over 7 and 30 days, in Hebrew and English', async () => {
    await page.locator('#view-stats').click();
    await page.locator('#stats-view:not([hidden])').waitFor();
    await expect.poll(() => page.locator('#stats-calls-chart [data-day]').count()).toBe(7);
    expect(await page.locator('#stats-range input:checked').getAttribute('value')).toBe('7');
    const week = await days();
    // Oldest first, ending today in the business's zone.
    expect(week.at(-1)?.day).toBe(localDay(new Date()));
    expect(week.find((day) => day.day === localDay(yesterday))).toMatchObject({ calls: '2', completed: '1', failed: '1', other: '0' });
    expect(week.find((day) => day.day === localDay(threeDaysAgo))).toMatchObject({ calls: '2', completed: '1', failed: '0', other: '1' });
    expect(week.reduce((sum, day) => sum + Number(day.calls), 0)).toBe(4);
    // A bar segment per outcome a day has, none for days without calls.
    expect(await page.locator('#stats-calls-chart rect[data-outcome]').count()).toBe(4);
    const points = await page.locator('#stats-latency-chart [data-day]').evaluateAll((groups) => groups.map((group) => ({ ...(group as HTMLElement).dataset })));
    expect(points).toHaveLength(2);
    expect(points.find((point) => point.day === localDay(yesterday))).toMatchObject({ p50: '250', p95: '385' });
    expect(points.find((point) => point.day === localDay(threeDaysAgo))).toMatchObject({ p50: '1500', p95: '1950' });

    // Totals over every turn of the range: [100, 200, 300, 400, 1000, 2000].
    const total = (name: string) => page.locator(`#stats-totals [data-total="${name}"]`);
    expect(await total('calls').getAttribute('data-value')).toBe('4');
    expect(await total('completed').getAttribute('data-value')).toBe('2');
    expect(await total('failed').getAttribute('data-value')).toBe('1');
    expect(await total('other').getAttribute('data-value')).toBe('1');
    expect(await total('p50').getAttribute('data-value')).toBe('350');
    expect(await total('p95').getAttribute('data-value')).toBe('1750');
    expect(await total('cost').getAttribute('data-value')).toBe('0.17');
    expect(await total('cost').textContent()).toContain('0.17');
    expect(await total('p95').textContent()).toContain('1,750');
    expect(await page.locator('#stats-heading').textContent()).toBe('סטטיסטיקה');
    // The table for screen readers has a row a day.
    expect(await page.locator('#stats-table tbody tr').count()).toBe(7);
    // The address says which view is open, so a reload comes back to it.
    expect(await page.evaluate(() => location.hash)).toBe('#stats');
    await shot('stats-he');

    await page.locator('#stats-range label', { hasText: '30' }).click();
    await expect.poll(() => page.locator('#stats-calls-chart [data-day]').count()).toBe(30);
    await expect.poll(() => total('calls').getAttribute('data-value')).toBe('5');
    expect(await total('cost').getAttribute('data-value')).toBe('5.17');
    expect((await days()).find((day) => day.day === localDay(tenDaysAgo))).toMatchObject({ calls: '1', completed: '1' });

    await page.locator('#language').click();
    expect(await page.evaluate(() => document.documentElement.dir)).toBe('ltr');
    expect(await page.locator('#stats-heading').textContent()).toBe('Stats');
    expect(await total('cost').textContent()).toContain('$5.17');
    expect(await page.locator('#stats-calls-chart svg').getAttribute('aria-label')).toContain('30 days');
    await shot('stats-en');
    await page.locator('#language').click();
    expect(await page.locator('#stats-heading').textContent()).toBe('סטטיסטיקה');

    // Back to the calls, and to the stats after a reload.
    await page.locator('#view-calls').click();
    await page.locator('#console:visible').waitFor();
    expect(await page.locator('#stats-view').isHidden()).toBe(true);
    await page.locator('#view-stats').click();
    await page.reload();
    await page.locator('#stats-view:not([hidden])').waitFor();
    await expect.poll(() => page.locator('#stats-calls-chart [data-day]').count()).toBe(7);
    expect(pageErrors).toEqual([]);
  });

  it('says so when there were no calls in the range', async () => {
    await signIn(quiet.keys.viewer);
    await page.locator('#view-stats').click();
    await page.locator('#stats-empty:not([hidden])').waitFor();
    expect(await page.locator('#stats-empty').textContent()).toBe('אין שיחות בימים האלה.');
    expect(await page.locator('#stats-calls-chart [data-day]').count()).toBe(7);
    expect(await page.locator('#stats-calls-chart rect[data-outcome]').count()).toBe(0);
    expect(await page.locator('#stats-totals [data-total="calls"]').getAttribute('data-value')).toBe('0');
    expect(await page.locator('#stats-totals [data-total="cost"]').getAttribute('data-value')).toBe('');
    expect(await page.locator('#stats-latency-chart [data-day]').count()).toBe(0);
    expect(pageErrors).toEqual([]);
  });
});
