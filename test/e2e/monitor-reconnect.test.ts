import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallEvent } from '../../src/core/events.ts';
import { browserUnavailable, launchBrowser } from '../support/browser.ts';
import { eventually } from '../support/calls.ts';
import { createCall } from '../support/factories.ts';
import { createTenant, startApiApp, type Tenant } from '../support/graphql.ts';

/**
 * The /monitor console in Chromium, its socket closed by the server: it reconnects by itself
 * and shows live events again. The close is the real one — the server drops the console as
 * a subscriber too slow to read (its page is kept busy while events pile up).
 */

const unavailable = browserUnavailable();
if (unavailable) console.warn(`monitor reconnect browser test skipped: ${unavailable}`);

describe.skipIf(unavailable)('the /monitor console, dropped by the server', () => {
  let app: Awaited<ReturnType<typeof startApiApp>>;
  let tenant: Tenant;
  let browser: Browser;
  let page: Page;
  const states: string[] = [];

  beforeAll(async () => {
    app = await startApiApp();
    tenant = await createTenant(app.services.orm.em);
    browser = await launchBrowser();
    page = await (await browser.newContext({ locale: 'en-US' })).newPage();
    await page.exposeFunction('reportState', (state: string) => void states.push(state));
  });
  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });

  it('reconnects and shows the call’s events again (regression: dropped as too slow with 4429, it never came back)', { timeout: 90_000 }, async () => {
    const call = await createCall(app.services.orm.em, tenant.businessId, { status: 'in-progress', startedAt: new Date() });
    await page.goto(`${app.url}/monitor#call=${call.id}`);
    await page.locator('#api-key').fill(tenant.keys.supervisor);
    await page.keyboard.press('Enter');
    await page.locator('#connection[data-state="live"]').waitFor();
    await page.locator('#call-panel').waitFor();
    await watchConnection(page);
    const turn = (text: string) =>
      app.services.bus.publish('call:events', call.id, { type: 'transcript.turn', callId: call.id, itemId: text, turn: { speaker: 'agent', text, at: new Date().toISOString() } } satisfies CallEvent);
    await eventually(() => (turn('before the drop'), page.locator('#transcript .turn-text', { hasText: 'before the drop' }).count()), (n) => n > 0, 'a live turn');

    // The page is kept busy (it asks /metrics, synchronously, whether it was dropped yet), so
    // it reads nothing from its socket while 64 KB events pile up on the server.
    const busy = page.evaluate(() => {
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        const request = new XMLHttpRequest();
        request.open('GET', '/metrics', false);
        request.send();
        if (/^callwatch_subscription_slow_disconnected_total [1-9]/m.test(request.responseText)) return true;
      }
      return false;
    });
    const padding = 'x'.repeat(64 * 1024);
    const deadline = Date.now() + 60_000;
    while (app.services.metrics.get('subscription_slow_disconnected_total') === 0 && Date.now() < deadline) {
      app.services.bus.publish('call:events', call.id, { type: 'speech.started', callId: call.id, at: new Date().toISOString(), padding } as CallEvent);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(await busy).toBe(true);

    // The console reads what was queued, hears the close, and comes back on its own.
    await eventually(() => states, (seen) => seen.includes('reconnecting') && seen.at(-1) === 'live', 'the console reconnected', 30_000);
    await eventually(() => (turn('after the drop'), page.locator('#transcript .turn-text', { hasText: 'after the drop' }).count()), (n) => n > 0, 'a live turn after the drop');
  });
});

/** Reports each change of the console's connection badge (`data-state`) to the test. */
async function watchConnection(page: Page): Promise<void> {
  await page.evaluate(() => {
    const badge = document.getElementById('connection')!;
    new MutationObserver(() => void (window as unknown as { reportState(state: string): void }).reportState(badge.dataset.state ?? '')).observe(badge, {
      attributes: true,
      attributeFilter: ['data-state'],
    });
  });
}
