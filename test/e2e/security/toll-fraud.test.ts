import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialingCountries, dialRefusal } from '../../../src/core/dialable-numbers.ts';
import { createLogger } from '../../../src/core/logger.ts';
import { issueApiKey } from '../../../src/entities/api-key.repository.ts';
import { BusinessSettings } from '../../../src/entities/business-settings.entity.ts';
import { sql } from '../../../src/entities/sql.ts';
import { dialOutboundCall } from '../../../src/workers/outbound/dial.ts';
import { fixtureText, loadFixture } from '../../../src/sandbox/fixtures.ts';
import { endedCall, eventually, placeCall, startCallHarness, type CallHarness, type PlacedCall } from '../../support/calls.ts';
import { createLead } from '../../support/factories.ts';
import { graphql } from '../../support/graphql.ts';

/**
 * Threat: toll fraud (security review F9). A stolen supervisor key creates leads on
 * premium-rate, satellite or far-away numbers and has Callwatch dial them — one by one
 * (`scheduleOutboundCall`), a thousand at a time (`createCampaign`), or by transferring a
 * live call (`transferCall`, or an admin's transfer number) — and the business pays.
 * Defence: every number dialed is checked (core/dialable-numbers.ts): premium-rate,
 * shared-cost and personal numbers, and numbers of no country, are refused everywhere;
 * other numbers only in the business's `allowedCountries` (default: its own country, from
 * its phone number). A refusal is a ValidationError naming the field and why; the dialer
 * checks again at dial time and fails the job for good.
 */

/** The business answers on an Israeli number: Israel is its own country. */
const refused = {
  usPremium: { phone: '+19005550123', why: /premium-rate/ },
  ukPremium: { phone: '+449098790000', why: /premium-rate/ },
  satellite: { phone: '+8821612345678', why: /no country/ },
  newYork: { phone: '+12125550123', why: /is in US, which is not among the business's allowed countries \(IL\)/ },
};
const israeliMobile = '+972529998877';
const tomorrow = () => new Date(Date.now() + 86_400_000).toISOString();

const jobResult = '{ __typename ... on OutboundCallJob { id status } ... on ValidationError { message fieldErrors { path message } } }';
const schedule = 'mutation($input: ScheduleOutboundCallInput!) { scheduleOutboundCall(input: $input) ' + jobResult + ' }';
const campaign =
  'mutation($input: CreateCampaignInput!) { createCampaign(input: $input) { __typename ... on Campaign { id } ... on ValidationError { message fieldErrors { path message } } } }';
const settings =
  'mutation($input: UpdateBusinessSettingsInput!) { updateBusinessSettings(input: $input) { __typename ... on BusinessSettings { transferNumber allowedCountries } ... on ValidationError { message fieldErrors { path message } } } }';
const transfer =
  'mutation($id: ID!, $to: String!) { transferCall(callId: $id, to: $to) { __typename ... on SupervisorActionResult { acted error } ... on ValidationError { message fieldErrors { path message } } } }';

let sequence = 1900;
const nextSid = () => `CA${String(++sequence).padStart(32, '0')}`;

describe('which numbers may be dialed (the rule, without the database)', () => {
  it('refuses premium-rate, shared-cost and personal numbers even in an allowed country, and numbers of no country', () => {
    const everywhere = ['IL', 'US', 'GB', 'ES'];
    expect(dialRefusal('+19005550123', everywhere)).toMatch(/premium-rate/);
    expect(dialRefusal('+448712345678', everywhere)).toMatch(/premium-rate/);
    expect(dialRefusal('+9721700123456', everywhere)).toMatch(/shared-cost/); // Israel's 1-700
    expect(dialRefusal('+34902123456', everywhere)).toMatch(/shared-cost/);
    expect(dialRefusal('+447012345678', everywhere)).toMatch(/personal/);
    expect(dialRefusal('+15005550006', everywhere)).toMatch(/personal/); // Twilio's magic test number is a US 500 number
    expect(dialRefusal('+8821612345678', everywhere)).toMatch(/no country/);
    expect(dialRefusal('+881612345678', everywhere)).toMatch(/no country/);
  });

  it('allows fixed lines, mobiles, VoIP, UAN and numbers in ranges the metadata does not know yet, in an allowed country only', () => {
    for (const e164 of ['+97233824100', '+972529998877', '+972733456789', '+972501234567']) {
      expect(dialRefusal(e164, ['IL']), e164).toBeNull();
      expect(dialRefusal(e164, ['US']), e164).toMatch(/is in IL, which is not among the business's allowed countries \(US\)/);
    }
    expect(dialRefusal('+443001234567', ['GB'])).toBeNull();
  });

  it('defaults to the countries of the business’s phone numbers, then its locale’s region', () => {
    expect(dialingCountries([], ['+97233824100'], 'he-IL')).toEqual(['IL']);
    expect(dialingCountries([], ['+97233824100', '+442079460000'], 'he-IL')).toEqual(['GB', 'IL']);
    expect(dialingCountries([], [], 'en-GB')).toEqual(['GB']);
    expect(dialingCountries([], [], 'he')).toEqual(['IL']);
    expect(dialingCountries(['US'], ['+97233824100'], 'he-IL')).toEqual(['US']);
  });
});

describe('toll fraud: only numbers in the business’s allowed countries, never premium rate', () => {
  let h: CallHarness;
  let supervisor: string;
  let admin: string;
  const leads: Record<string, string> = {};

  beforeAll(async () => {
    h = await startCallHarness();
    const em = h.app.services.orm.em.fork();
    supervisor = (await issueApiKey(em, { businessId: h.business.id, role: 'supervisor', name: 'crm' })).key;
    admin = (await issueApiKey(em, { businessId: h.business.id, role: 'admin', name: 'owner' })).key;
    for (const [name, { phone }] of Object.entries(refused)) leads[name] = (await createLead(em, h.business, { phone })).id;
    leads.israeliMobile = (await createLead(em, h.business, { phone: israeliMobile })).id;
  });
  afterAll(async () => {
    await h?.stop();
  });

  const setAllowedCountries = async (countries: string[]) => {
    const response = await graphql(h.app.url, admin, settings, { input: { allowedCountries: countries } });
    expect(response.data?.updateBusinessSettings).toMatchObject({ __typename: 'BusinessSettings', allowedCountries: countries });
  };
  const jobCount = async () => Number((await sql(h.app.services.orm.em.fork()).selectFrom('OutboundCallJob').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n);

  it('scheduleOutboundCall refuses premium-rate, satellite and foreign numbers, naming input.leadId and why; an Israeli mobile is scheduled', async () => {
    const before = await jobCount();
    for (const [name, { why }] of Object.entries(refused)) {
      const response = await graphql(h.app.url, supervisor, schedule, { input: { leadId: leads[name], purpose: 'follow up', at: tomorrow() } });
      expect(response.errors, name).toBeUndefined();
      const result = response.data!.scheduleOutboundCall;
      expect(result.__typename, name).toBe('ValidationError');
      expect(result.fieldErrors, name).toEqual([{ path: ['input', 'leadId'], message: expect.stringMatching(why) }]);
      expect(result.fieldErrors[0].message, name).toMatch(/^The lead's number /);
    }
    expect(await jobCount()).toBe(before);

    const ok = await graphql(h.app.url, supervisor, schedule, { input: { leadId: leads.israeliMobile, purpose: 'follow up', at: tomorrow() } });
    expect(ok.data!.scheduleOutboundCall).toMatchObject({ __typename: 'OutboundCallJob', status: 'QUEUED' });
  });

  it('createCampaign refuses a list with any such lead, naming them, and creates nothing', async () => {
    const before = await jobCount();
    const response = await graphql(h.app.url, supervisor, campaign, {
      input: { name: 'spring', purpose: 'offer', leadIds: [leads.israeliMobile, leads.usPremium, leads.satellite], window: { from: tomorrow() } },
    });
    expect(response.errors).toBeUndefined();
    const result = response.data!.createCampaign;
    expect(result.__typename).toBe('ValidationError');
    expect(result.fieldErrors).toHaveLength(1);
    expect(result.fieldErrors[0].path).toEqual(['input', 'leadIds']);
    expect(result.fieldErrors[0].message).toContain(`lead ${leads.usPremium} is a premium-rate number`);
    expect(result.fieldErrors[0].message).toContain(`lead ${leads.satellite} belongs to no country`);
    expect(result.fieldErrors[0].message).not.toContain(leads.israeliMobile);
    expect(await jobCount()).toBe(before);

    // By filter too: every lead of the business matches.
    const byFilter = await graphql(h.app.url, supervisor, campaign, { input: { name: 'all', purpose: 'offer', filter: {}, window: { from: tomorrow() } } });
    expect(byFilter.data!.createCampaign).toMatchObject({ __typename: 'ValidationError', fieldErrors: [{ path: ['input', 'filter'] }] });
    expect(await jobCount()).toBe(before);
  });

  it('updateBusinessSettings refuses such a transfer number, and country codes that are not ISO 3166 alpha-2', async () => {
    for (const [name, { phone, why }] of Object.entries(refused)) {
      const response = await graphql(h.app.url, admin, settings, { input: { transferNumber: phone } });
      expect(response.data!.updateBusinessSettings, name).toMatchObject({ __typename: 'ValidationError', fieldErrors: [{ path: ['input', 'transferNumber'], message: expect.stringMatching(why) }] });
    }
    for (const code of ['XX', 'ISR', '']) {
      const response = await graphql(h.app.url, admin, settings, { input: { allowedCountries: ['IL', code] } });
      expect(response.data!.updateBusinessSettings, code).toMatchObject({ __typename: 'ValidationError', fieldErrors: [{ path: ['input', 'allowedCountries', '1'], message: expect.stringMatching(/ISO 3166/) }] });
    }
    const ok = await graphql(h.app.url, admin, settings, { input: { transferNumber: israeliMobile } });
    expect(ok.data!.updateBusinessSettings).toEqual({ __typename: 'BusinessSettings', transferNumber: israeliMobile, allowedCountries: [] });
  });

  describe('transferCall on a live call', () => {
    async function liveCall(): Promise<PlacedCall & { id: string }> {
      const placed = await placeCall(h, nextSid());
      placed.session.script({ replies: [{ text: 'שלום' }] });
      placed.caller.start();
      await placed.session.waitForSent('response.done');
      const row = await sql(h.app.services.orm.em.fork()).selectFrom('Call').select('id').where('callSid', '=', placed.callSid).executeTakeFirstOrThrow();
      return { ...placed, id: row.id };
    }

    it('refuses premium-rate, satellite and foreign numbers on `to`, the call going on, without a statement on the call path', async () => {
      const call = await liveCall();
      const before = h.statements.length;
      for (const [name, { phone, why }] of Object.entries(refused)) {
        const response = await graphql(h.app.url, supervisor, transfer, { id: call.id, to: phone });
        expect(response.errors, name).toBeUndefined();
        expect(response.data!.transferCall, name).toMatchObject({ __typename: 'ValidationError', fieldErrors: [{ path: ['to'], message: expect.stringMatching(why) }] });
      }
      // The API looked the call up; nothing read the settings or the numbers during the call.
      expect(h.statements.slice(before).filter((statement) => /business_settings|phone_numbers/.test(statement))).toEqual([]);
      expect(h.twilioApi.requests.filter((request) => request.path.endsWith(`/Calls/${call.callSid}.json`))).toEqual([]);
      call.caller.stop();
      await endedCall(h, call.callSid);
    });
  });

  describe('after an admin adds US to the allowed countries', () => {
    beforeAll(async () => {
      await setAllowedCountries(['IL', 'US']);
    });
    afterAll(async () => {
      await setAllowedCountries([]);
    });

    it('a New York number can be scheduled, set as the transfer number and transferred to; premium rate still cannot', async () => {
      const scheduled = await graphql(h.app.url, supervisor, schedule, { input: { leadId: leads.newYork, purpose: 'follow up', at: tomorrow() } });
      expect(scheduled.data!.scheduleOutboundCall).toMatchObject({ __typename: 'OutboundCallJob' });
      const premium = await graphql(h.app.url, supervisor, schedule, { input: { leadId: leads.usPremium, purpose: 'follow up', at: tomorrow() } });
      expect(premium.data!.scheduleOutboundCall).toMatchObject({ __typename: 'ValidationError', fieldErrors: [{ message: expect.stringMatching(/premium-rate/) }] });

      const transferNumber = await graphql(h.app.url, admin, settings, { input: { transferNumber: refused.newYork.phone } });
      expect(transferNumber.data!.updateBusinessSettings).toMatchObject({ __typename: 'BusinessSettings', transferNumber: refused.newYork.phone });
      // Dropping US again would leave a transfer number the business may not dial.
      const dropUs = await graphql(h.app.url, admin, settings, { input: { allowedCountries: ['IL'] } });
      expect(dropUs.data!.updateBusinessSettings).toMatchObject({ __typename: 'ValidationError', fieldErrors: [{ path: ['input', 'allowedCountries'], message: expect.stringMatching(/^The transfer number is in US/) }] });
      await graphql(h.app.url, admin, settings, { input: { transferNumber: israeliMobile } });

      const call = await (async () => {
        const placed = await placeCall(h, nextSid());
        placed.session.script({ replies: [{ text: 'שלום' }] });
        placed.caller.start();
        await placed.session.waitForSent('response.done');
        return placed;
      })();
      const { id } = await sql(h.app.services.orm.em.fork()).selectFrom('Call').select('id').where('callSid', '=', call.callSid).executeTakeFirstOrThrow();
      const response = await graphql(h.app.url, supervisor, transfer, { id, to: refused.newYork.phone });
      expect(response.data!.transferCall).toEqual({ __typename: 'SupervisorActionResult', acted: true, error: null });
      const update = await h.twilioApi.waitForRequest((request) => request.method === 'POST' && request.path.endsWith(`/Calls/${call.callSid}.json`), 15_000);
      expect(update.params.Twiml).toContain('<Dial answerOnBridge="true">+12125550123</Dial>');
      expect((await endedCall(h, call.callSid)).endReason).toBe('transferred by a supervisor');
      call.caller.stop();
    });
  });

  it('a transfer number saved before the rule is not dialed during a call: the agent hears there is no one to transfer to', async () => {
    const em = h.app.services.orm.em.fork();
    const row = await em.findOneOrFail(BusinessSettings, { business: h.business.id });
    row.transferNumber = refused.usPremium.phone;
    await em.flush();

    const call = await placeCall(h, nextSid());
    call.session.script({
      callerTranscripts: [fixtureText('caller-booking')],
      replies: [{ text: 'שלום' }, { toolCall: { name: 'transfer_to_human', arguments: { reason: 'wants a person' } } }, { text: 'אין נציג זמין' }],
    });
    call.caller.start();
    await eventually(() => call.caller.heardMs(), (ms) => ms >= 500, 'the greeting to play');
    await call.caller.play(loadFixture('caller-booking'), { pace: 'instant' });
    await call.caller.silence(800, { pace: 'instant' });
    expect(JSON.parse((await call.session.waitForToolOutput()).output)).toMatchObject({ transferred: false });
    call.caller.stop();
    expect((await endedCall(h, call.callSid)).endReason).not.toMatch(/transfer/);
    expect(h.twilioApi.requests.filter((request) => request.path.endsWith(`/Calls/${call.callSid}.json`) && /<Dial/.test(String(request.params.Twiml ?? '')))).toEqual([]);
    row.transferNumber = null;
    await em.flush();
  });

  it('the dialer checks again at dial time: a job for a number no longer allowed fails with the reason, is not retried and is never dialed', async () => {
    // A job written before the rule (or before the settings changed): straight into the table.
    const em = h.app.services.orm.em.fork();
    const job = await sql(em)
      .insertInto('OutboundCallJob')
      .values({ business: h.business.id, lead: leads.newYork!, purpose: 'follow up', scheduledAt: new Date() })
      .returningAll()
      .executeTakeFirstOrThrow();
    const row = await em.findOneOrFail(BusinessSettings, { business: h.business.id });
    Object.assign(row, { callingHours: Object.fromEntries(['0', '1', '2', '3', '4', '5', '6'].map((day) => [day, [{ open: '00:00', close: '24:00' }]])), callOnHolidays: true });
    await em.flush();

    const dial = dialOutboundCall(h.app.services);
    await dial({ outboundJobId: job.id }, { jobId: 'toll-fraud-1', retryCount: 0, lastAttempt: false, signal: new AbortController().signal, logger: createLogger({ level: 'silent' }) });
    const after = await sql(h.app.services.orm.em.fork()).selectFrom('OutboundCallJob').selectAll().where('id', '=', job.id).executeTakeFirstOrThrow();
    expect(after).toMatchObject({ status: 'failed', attempts: 0 });
    expect(after.lastError).toMatch(/^refused to dial: the lead's number is in US, which is not among the business's allowed countries \(IL\)/);
    expect(h.twilioApi.requests.filter((request) => request.params.To === refused.newYork.phone && request.path.endsWith('/Calls.json'))).toEqual([]);
  });
});
