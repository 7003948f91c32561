import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueApiKey } from '../../src/entities/api-key.repository.ts';
import { sql } from '../../src/entities/sql.ts';
import { fixtureText, loadFixture } from '../../src/sandbox/fixtures.ts';
import { agentSettings, eventually, placeCall, startCallHarness, type CallHarness } from '../support/calls.ts';
import { graphql } from '../support/graphql.ts';
import { artifactsDir, browserUnavailable, launchBrowser } from '../support/browser.ts';

/**
 * The supervisor console in a real browser (Debian's Chromium, headless) during a sandbox
 * call: every socket is real — the page's graphql-ws client, Twilio's media stream from
 * the simulated caller, the OpenAI Realtime stand-in — and the pipeline runs after it.
 */

const unavailable = browserUnavailable();
if (unavailable) console.warn(`monitor console browser test skipped: ${unavailable}`);

const agentReply = 'בשמחה! באיזה יום נוח לך שנגיע לביקור הערכת מחיר?';
const whisper = 'הצע לה הנחה של 10%';
const summary = 'ד״ר שרה לוי מחיפה ביקשה ביקור להערכת מחיר לשיפוץ מטבח.';

describe.skipIf(unavailable)('the /monitor console', () => {
  let h: CallHarness;
  let browser: Browser;
  let page: Page;
  let talking: ReturnType<typeof keepTalking> | undefined;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    h = await startCallHarness({ pace: 'realtime', pipeline: true });
    await agentSettings(h, {});
    h.pipeline?.openaiApi.handle({
      respond: (request) => (request.format.type === 'json_schema' ? { city: 'חיפה', service_category: 'שיפוץ מטבח', fields: {} } : summary),
    });
    browser = await launchBrowser();
    const context = await browser.newContext({ locale: 'he-IL', viewport: { width: 1440, height: 1000 } });
    page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });
  });
  afterAll(async () => {
    await talking?.stop();
    await browser?.close();
    await h?.stop();
  });

  const shot = (name: string) => page.screenshot({ path: join(artifactsDir, `monitor-${name}.png`), fullPage: true });

  it('refuses a wrong key and keeps nothing of it', async () => {
    await page.goto(`${h.app.url}/monitor`);
    await page.locator('#api-key').fill('cw_not_a_real_key');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('#sign-in-status').textContent()).toBe('המפתח נדחה. בדקו אותו ונסו שוב.');
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
  });

  // The call runs at the pace of speech (about 12 s on a quiet machine): room for a busy one.
  it('watches a live call: list, Hebrew transcript, captured details, listen-in, whisper, hang-up, pipeline', { timeout: 120_000 }, async () => {
    pageErrors.length = 0; // The refused key's 401 above is logged by the browser.
    const { key } = await issueApiKey(h.app.services.orm.em.fork(), { businessId: h.business.id, role: 'supervisor', name: 'console' });
    await page.locator('#api-key').fill(key);
    await shot('sign-in');
    await page.keyboard.press('Enter');
    await page.locator('#connection[data-state="live"]').waitFor();
    expect(await page.evaluate(() => [document.documentElement.lang, document.documentElement.dir])).toEqual(['he', 'rtl']);
    expect(await page.locator('#timezone').textContent()).toBe('השעות לפי Asia/Jerusalem');

    // Sarah calls; the agent greets her, she asks for an appointment, it saves her details.
    const { caller, session, callSid } = await placeCall(h, 'CA00000000000000000000000000000c01');
    session.script({
      replies: [
        { text: fixtureText('agent-greeting'), audio: loadFixture('agent-greeting') },
        { toolCall: { name: 'save_lead_details', arguments: { name: 'ד״ר שרה לוי', city: 'חיפה', service: 'שיפוץ מטבח', notes: 'Prefers mornings: sarah@example.com' } } },
        { text: agentReply },
      ],
      callerTranscripts: [fixtureText('caller-booking')],
    });
    caller.start();
    const row = page.locator('#live-calls [data-call-id]');
    await row.waitFor();
    expect(await row.textContent()).toContain('ד״ר שרה לוי');
    // Keyboard only: focus the row and open it with Enter.
    await row.focus();
    await page.keyboard.press('Enter');
    await page.locator('#call-panel').waitFor();

    // Every control and meter on the page says what it is, to a screen reader too.
    const controls = page.locator('button:visible, input:visible, textarea:visible, [role="meter"]');
    expect(await controls.count()).toBeGreaterThan(10);
    const unnamed = await controls.evaluateAll((elements) =>
      elements
        .filter((element) => !((element as HTMLInputElement).labels?.length || element.getAttribute('aria-label') || element.textContent?.trim()))
        .map((element) => element.outerHTML.slice(0, 80)),
    );
    expect(unnamed).toEqual([]);

    const greeting = page.locator('#transcript .turn-agent .turn-text').first();
    await greeting.waitFor();
    expect(await greeting.textContent()).toBe(fixtureText('agent-greeting'));
    // Hebrew lines run right to left whatever the UI language.
    expect(await greeting.evaluate((element) => element.matches(':dir(rtl)'))).toBe(true);

    // Listen, then Sarah speaks: both sides are decoded and played, her meter moves.
    await page.locator('#listen').click();
    expect(await page.locator('#listen').getAttribute('aria-pressed')).toBe('true');
    talking = keepTalking(caller);
    await expect.poll(() => page.locator('#meter-caller').getAttribute('aria-valuenow').then(Number), { timeout: 10_000 }).toBeGreaterThan(0);
    await expect.poll(() => page.locator('#played-count').getAttribute('data-count').then(Number), { timeout: 10_000 }).toBeGreaterThan(100);

    await page.locator('#transcript .turn-caller').waitFor({ timeout: 20_000 });
    await page.locator('#fields dd', { hasText: 'חיפה' }).waitFor();
    await page.locator('#timeline li[data-type="tool.called"]').waitFor();
    await page.locator('#transcript .turn-agent', { hasText: agentReply }).waitFor({ timeout: 20_000 });

    await page.locator('#whisper-text').fill(whisper);
    await page.keyboard.press('Enter');
    await page.locator('#timeline li[data-type="supervisor.action"]', { hasText: whisper }).waitFor();
    expect(await page.locator('#controls-status').getAttribute('data-outcome')).toBe('done');
    await session.waitForReceived('conversation.item.create');
    await shot('live-he');

    // The same call in the English UI: the layout turns left to right, the Hebrew does not.
    await page.locator('#language').click();
    expect(await page.evaluate(() => document.documentElement.dir)).toBe('ltr');
    expect(await page.locator('#transcript .turn-text').first().evaluate((element) => element.matches(':dir(rtl)'))).toBe(true);
    expect(await page.locator('#fields dd', { hasText: 'sarah@example.com' }).evaluate((element) => element.matches(':dir(ltr)'))).toBe(true);
    await shot('live-en');

    // Hang up takes two presses; then the call ends and the pipeline runs.
    await page.locator('#hang-up').click();
    expect(await page.locator('#hang-up').textContent()).toBe('Press again to hang up');
    await page.locator('#hang-up').click();
    const twilio = await h.twilioApi.waitForRequest((request) => request.method === 'POST' && request.path.endsWith(`/Calls/${callSid}.json`));
    expect(twilio.params.Status).toBe('completed');
    await page.locator('#call-ended:not([hidden])').waitFor();
    expect(await page.locator('#call-ended').textContent()).toBe('Call ended: hung up by a supervisor');
    expect(await page.locator('#recent-calls [data-call-id]').textContent()).toContain('Completed');
    expect(await page.locator('#live-calls [data-call-id]').count()).toBe(0);
    expect(await page.locator('#recent-calls [data-call-id]').count()).toBe(1);
    expect(await page.locator('#listen').isDisabled()).toBe(true);
    expect(await page.locator('#hang-up').isDisabled()).toBe(true);
    expect(await page.locator('#whisper-text').isDisabled()).toBe(true);

    await page.locator('#pipeline-steps li[data-step="DELIVER"][data-outcome="done"]').waitFor({ timeout: 20_000 });
    await page.locator('#summary', { hasText: summary }).waitFor();
    // The response times written with the call's end are drawn, a bar per measured turn.
    const { latency } = await sql(h.app.services.orm.em.fork()).selectFrom('Call').select('latency').where('callSid', '=', callSid).executeTakeFirstOrThrow();
    expect(latency?.turnMs.length).toBeGreaterThan(0);
    await page.locator('#latency-chart svg').waitFor();
    expect(await page.locator('#latency-chart [data-turn]').evaluateAll((bars) => bars.map((bar) => Number(bar.getAttribute('data-ms'))))).toEqual(latency?.turnMs);
    expect(await page.locator('#latency-none').isHidden()).toBe(true);
    await page.locator('#pipeline-webhook', { hasText: 'delivered' }).waitFor();
    expect(await page.locator('#pipeline-steps li').evaluateAll((items) => items.map((item) => [item.getAttribute('data-step'), item.getAttribute('data-outcome')]))).toEqual([
      ['DOWNLOAD', 'skipped'],
      ['TRANSCRIBE', 'skipped'],
      ['SUMMARIZE', 'done'],
      ['EXTRACT', 'done'],
      ['DELIVER', 'done'],
    ]);
    await page.locator('#language').click();
    await shot('finished-he');
    await eventually(() => h.pipeline?.receiver.deliveries.length ?? 0, (n) => n === 1, 'the webhook');

    await talking?.stop();
    expect(pageErrors).toEqual([]);
  });

  it('shows the outbound calls, and follows them as they change', async () => {
    const { key } = await issueApiKey(h.app.services.orm.em.fork(), { businessId: h.business.id, role: 'supervisor', name: 'crm' });
    const at = new Date(Date.now() + 2 * 86_400_000);
    const scheduled = await graphql<{ scheduleOutboundCall: { id: string } }>(
      h.app.url,
      key,
      'mutation($input: ScheduleOutboundCallInput!) { scheduleOutboundCall(input: $input) { ... on OutboundCallJob { id } } }',
      { input: { leadId: h.sarah.id, purpose: 'לאשר את ביקור הערכת המחיר', at: at.toISOString() } },
    );
    const id = scheduled.data!.scheduleOutboundCall.id;
    // Scheduled by the CRM: it shows up by itself.
    const row = page.locator(`#outbound-jobs [data-job-id="${id}"]`);
    await row.waitFor();
    expect(await row.getAttribute('data-status')).toBe('QUEUED');
    expect(await row.textContent()).toContain('לאשר את ביקור הערכת המחיר');
    await graphql(h.app.url, key, 'mutation($id: ID!) { cancelOutboundCall(id: $id) { __typename } }', { id });
    await page.locator(`#outbound-jobs [data-job-id="${id}"][data-status="CANCELED"]`).waitFor();
    await shot('outbound-he');

    // After a reload the list is read again, and the call that was open (its id is in the
    // address) opens again.
    await page.reload();
    await page.locator(`#outbound-jobs [data-job-id="${id}"][data-status="CANCELED"]`).waitFor();
    await page.locator('#call-panel').waitFor();
    expect(await page.locator('#call-title').textContent()).toBe('ד״ר שרה לוי');
  });

  it('signs out: the key leaves session storage and the socket closes', async () => {
    await page.locator('#sign-out').click();
    await page.locator('#sign-in-form').waitFor();
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    expect(await page.locator('#connection').getAttribute('data-state')).toBe('rejected');
    await page.reload();
    await page.locator('#api-key').waitFor();
    expect(await page.locator('body').getAttribute('data-screen')).toBe('sign-in');
  });
});

/** The caller speaks, then stays on the line — sending silence in real time — until the call closes. */
function keepTalking(caller: Awaited<ReturnType<typeof placeCall>>['caller']) {
  let stopped = false;
  void caller.closed.then(() => (stopped = true));
  const loop = (async () => {
    await caller.play(loadFixture('caller-booking'));
    while (!stopped) {
      await caller.silence(200);
      // Once the socket has closed, silence() returns at once: yield so its close event lands.
      await sleep(0);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop.catch(() => {});
      caller.stop();
      await caller.closed;
    },
  };
}
