import { describe, expect, it } from 'vitest';
import { issueApiKey } from '../../../src/entities/api-key.repository.ts';
import { BusinessSettings } from '../../../src/entities/business-settings.entity.ts';
import { placeCall, useCallHarness, type CallHarness } from '../../support/calls.ts';
import { graphql } from '../../support/graphql.ts';

/**
 * Threat: a caller talks to an AI and is recorded without being told (Israel's Privacy
 * Protection Law and its Amendment 13 require saying so; so do consent-to-record rules
 * elsewhere), or is told of a recording nobody makes.
 * Defence: every call opens with a disclosure, part of the greeting (loaded with the call's
 * context before the call: no statement on the call path) — in the business's language, the
 * recording named only when the call is recorded, worded per business, on by default
 * (`callDisclosureEnabled`, `callDisclosure`). Outbound calls open with it too: see the
 * end-to-end outbound test (test/e2e/outbound.test.ts), which runs the dialer.
 */

const greeting = 'שלום שרה, ברוכה הבאה לשיפוצי הגליל';
const heNotRecorded = 'לידיעתכם, השיחה מתנהלת מול עוזר דיגיטלי מבוסס בינה מלאכותית.';
const heRecorded = 'לידיעתכם, השיחה מוקלטת ומתנהלת מול עוזר דיגיטלי מבוסס בינה מלאכותית.';

let calls = 0;

/**
 * Places a call and returns what the agent is first told to say (the `# Right now` part of
 * the greeting's response.create), and the SQL statements sent from the media stream's
 * start until then.
 */
async function firstWords(harness: CallHarness): Promise<{ said: string; statements: string[] }> {
  calls += 1;
  const { caller, session } = await placeCall(harness, `CA${String(calls).padStart(32, '0')}`);
  const statementsAtStart = harness.statements.length;
  caller.start();
  const greet = await session.waitForReceived('response.create');
  const statements = harness.statements.slice(statementsAtStart);
  caller.stop();
  await caller.closed;
  const instructions = (greet.response as { instructions?: string } | undefined)?.instructions ?? '';
  return { said: instructions.split('# Right now\n')[1] ?? '', statements };
}

async function settings(harness: CallHarness, changes: Partial<BusinessSettings>): Promise<void> {
  const em = harness.app.services.orm.em.fork();
  const row = await em.findOneOrFail(BusinessSettings, { business: harness.business.id });
  Object.assign(row, changes);
  await em.flush();
}

describe('the disclosure a call opens with', () => {
  const h = useCallHarness();

  it('is said in Hebrew before the greeting, by default, without naming a recording the business does not make — and adds no statement to the call path', async () => {
    await settings(h, { recordCalls: false });
    const { said, statements } = await firstWords(h);
    expect(said).toContain(`"${heNotRecorded} ${greeting}`);
    expect(said).not.toContain('מוקלטת');
    expect(statements).toEqual([]);
  });

  it('names the recording when the business records its calls', async () => {
    await settings(h, { recordCalls: true });
    const { said, statements } = await firstWords(h);
    expect(said).toContain(`"${heRecorded} ${greeting}`);
    expect(statements).toEqual([]);
    await settings(h, { recordCalls: false });
  });

  it('is in the business’s language', async () => {
    await settings(h, { language: 'en' });
    const { said } = await firstWords(h);
    expect(said).toContain('"Please note: you are speaking with an AI assistant. ');
    expect(said).toContain('in English');
    await settings(h, { language: 'he' });
  });

  it('is worded per business (updateBusinessSettings), and off only when the business turns it off', async () => {
    const admin = (await issueApiKey(h.app.services.orm.em.fork(), { businessId: h.business.id, role: 'admin', name: 'admin' })).key;
    const update = `mutation ($input: UpdateBusinessSettingsInput!) {
      updateBusinessSettings(input: $input) { ... on BusinessSettings { callDisclosureEnabled callDisclosure } ... on ValidationError { message } } }`;
    const wording = 'שימו לב: אתם מדברים עם בוט, והשיחה מוקלטת לשיפור השירות.';

    const custom = await graphql(h.app.url, admin, update, { input: { callDisclosure: wording } });
    expect(custom.data?.updateBusinessSettings).toEqual({ callDisclosureEnabled: true, callDisclosure: wording });
    expect((await firstWords(h)).said).toContain(`"${wording} ${greeting}`);

    const off = await graphql(h.app.url, admin, update, { input: { callDisclosureEnabled: false } });
    expect(off.data?.updateBusinessSettings).toEqual({ callDisclosureEnabled: false, callDisclosure: wording });
    const { said } = await firstWords(h);
    expect(said).toContain(`"${greeting}`);
    expect(said).not.toContain(wording);
    expect(said).not.toContain('לידיעתכם');

    // Back on, with the wording cleared: the default wording again.
    const reset = await graphql(h.app.url, admin, update, { input: { callDisclosureEnabled: true, callDisclosure: null } });
    expect(reset.data?.updateBusinessSettings).toEqual({ callDisclosureEnabled: true, callDisclosure: null });
    expect((await firstWords(h)).said).toContain(`"${heNotRecorded} ${greeting}`);

    const refused = await graphql(h.app.url, admin, update, { input: { callDisclosureEnabled: null } });
    expect(refused.data?.updateBusinessSettings).toMatchObject({ message: expect.stringContaining('callDisclosureEnabled') });
  });
});
