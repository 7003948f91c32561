import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTwilioClient } from '../../src/core/twilio-client.ts';
import { issueApiKey } from '../../src/entities/api-key.repository.ts';
import { BusinessSettings } from '../../src/entities/business-settings.entity.ts';
import { AttemptInFlightError, claimDialAttempt } from '../../src/dialer/dial-attempts.ts';
import { settleAttempt } from '../../src/dialer/settlement.ts';
import { sql } from '../../src/entities/sql.ts';
import { agentSettings, connectCaller, eventually, startCallHarness, type CallHarness } from '../support/calls.ts';
import { createLead } from '../support/factories.ts';
import { graphql } from '../support/graphql.ts';
import { settledJobs } from '../support/jobs.ts';
import { publicUrl, streamOf, twilioAccountSid, twilioAuthToken } from '../support/twilio.ts';

/**
 * Outbound calls through the real dialer (`outbound.dial` in the app's workers), the Twilio
 * REST stand-in dialing like Twilio (signed status callbacks, the voice URL, AMD), the
 * realtime bridge, and the post-call pipeline with its webhook.
 */

const allDay = { open: '00:00', close: '24:00' };
const everyDay = Object.fromEntries(['0', '1', '2', '3', '4', '5', '6'].map((day) => [day, [allDay]]));

describe('outbound calls', () => {
  let h: CallHarness;
  let key: string;

  beforeAll(async () => {
    h = await startCallHarness({ pipeline: true, env: { OUTBOUND_CALLS_PER_SECOND: '20' } });
    await agentSettings(h, {});
    // Calls may go out at any hour on any day, so no test depends on when it runs.
    const em = h.app.services.orm.em.fork();
    const settings = await em.findOneOrFail(BusinessSettings, { business: h.business.id });
    Object.assign(settings, { callingHours: everyDay, callOnHolidays: true, outboundMaxAttempts: 3, outboundRetrySpacingSec: 1, outboundMaxConcurrent: 5, outboundWebhookUrl: `${h.pipeline!.receiver.url}/outbound` });
    await em.flush();
    h.twilioApi.routeOrigin(publicUrl, h.app.url);
    h.twilioApi.ringFor(50);
    key = (await issueApiKey(h.app.services.orm.em.fork(), { businessId: h.business.id, role: 'supervisor', name: 'crm' })).key;
  });
  afterAll(async () => {
    await h?.stop();
  });

  const schedule = async (leadId: string, purpose: string, instructions?: string) => {
    const response = await graphql<{ scheduleOutboundCall: { id: string } }>(
      h.app.url,
      key,
      'mutation($input: ScheduleOutboundCallInput!) { scheduleOutboundCall(input: $input) { ... on OutboundCallJob { id } } }',
      { input: { leadId, purpose, instructions } },
    );
    return response.data!.scheduleOutboundCall.id;
  };
  const job = async (id: string) =>
    (
      await graphql<{ outboundCallJobs: { nodes: { id: string; status: string; attempts: number; lastOutcome: string | null; lastError: string | null; lastCall: { direction: string } | null }[] } }>(
        h.app.url,
        key,
        '{ outboundCallJobs(first: 100) { nodes { id status attempts lastOutcome lastError lastCall { direction } } } }',
      )
    ).data!.outboundCallJobs.nodes.find((node) => node.id === id)!;
  const creates = (to: string) => h.twilioApi.requests.filter((request) => request.method === 'POST' && request.path.endsWith('/Calls.json') && request.params.To === to);

  it('calls a lead end to end: dial, the agent opens with the reason, the pipeline, an outbound webhook', async () => {
    const jobId = await schedule(h.sarah.id, 'לאשר את ביקור הערכת המחיר של מחר', 'אם היא לא זמינה מחר, הצע יום אחר השבוע');
    const placed = await eventually(() => h.twilioApi.placedCalls.find((call) => call.to === h.sarah.phone), Boolean, 'the call at Twilio');
    const create = creates(h.sarah.phone)[0]!;
    expect(create.params).toMatchObject({ From: '+97233824100', Url: `${publicUrl}/twilio/voice?outboundJob=${jobId}`, StatusCallback: `${publicUrl}/twilio/status?outboundJob=${jobId}`, MachineDetection: 'Enable', AsyncAmd: 'true' });
    expect(create.params.StatusCallbackEvent).toEqual(['initiated', 'ringing', 'answered', 'completed']);

    // Sarah picks up: Twilio fetches the voice URL and streams the call to the agent.
    const twiml = await h.twilioApi.waitForVoiceTwiml(placed!.sid);
    const sessionsBefore = h.openai.sessions.length;
    const caller = await connectCaller(h, placed!.sid, streamOf(twiml).token);
    caller.start();
    await eventually(() => h.openai.sessions.length, (n) => n > sessionsBefore, 'the OpenAI session');
    const session = h.openai.sessions[sessionsBefore]!;
    const greeting = (await session.waitForReceived('response.create')) as { response: { instructions: string } };
    // The call disclosure opens outbound calls too (test/e2e/security/call-disclosure.test.ts).
    expect(greeting.response.instructions).toContain('"לידיעתכם, השיחה מתנהלת מול עוזר דיגיטלי מבוסס בינה מלאכותית. שלום שרה, מדברים משיפוצי הגליל."');
    expect(greeting.response.instructions).toContain('why you are calling: לאשר את ביקור הערכת המחיר של מחר');
    const update = (await session.waitForReceived('session.update')) as unknown as { session: { instructions: string } };
    expect(update.session.instructions).toContain('You placed this call. Reason: לאשר את ביקור הערכת המחיר של מחר');
    expect(update.session.instructions).toContain('For this call: אם היא לא זמינה מחר, הצע יום אחר השבוע');
    expect((await job(jobId)).status).toBe('IN_PROGRESS');

    // She hangs up: the stream stops and Twilio reports the call completed.
    await session.waitForSent('response.done');
    caller.stop();
    await caller.closed;
    await createTwilioClient({ accountSid: twilioAccountSid, authToken: twilioAuthToken, apiUrl: h.twilioApi.url }).calls(placed!.sid).update({ status: 'completed' });
    await eventually(() => job(jobId), (row) => row.status === 'COMPLETED', 'the job to complete');
    expect(await job(jobId)).toMatchObject({ attempts: 1, lastOutcome: 'ANSWERED', lastCall: { direction: 'OUTBOUND' } });

    const delivery = await h.pipeline!.receiver.waitForDelivery((candidate) => candidate.payload?.call_id === placed!.sid, 20_000);
    expect(delivery.verified).toBe(true);
    expect(delivery.path).toBe('/hooks/outbound');
    expect(delivery.payload).toMatchObject({ direction: 'outbound', phone: h.sarah.phone });
  });

  it('retries an unanswered call after the spacing, and stops after the last attempt', async () => {
    const lead = await createLead(h.app.services.orm.em, h.business, { fullName: 'יוסי מזרחי' });
    h.twilioApi.outcomeFor(lead.phone, 'no-answer');
    const jobId = await schedule(lead.id, 'להזכיר את ההצעה');
    await eventually(() => job(jobId), (row) => row.status === 'NO_ANSWER', 'the attempts to run out', 20_000);
    expect(await job(jobId)).toMatchObject({ attempts: 3, lastOutcome: 'NO_ANSWER' });
    const times = creates(lead.phone).map((request) => request.at.getTime());
    expect(times).toHaveLength(3);
    // Each retry waits at least the business's spacing (1 s here) after the last attempt ended.
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(1_000);
    // No fourth attempt: every dial job of this outbound job has run, and none is queued.
    expect(await settledJobs(h.app.services.orm.em, { name: 'outbound.dial', field: 'outboundJobId', values: [jobId] })).toEqual({ 'outbound.dial': 3 });
    expect(creates(lead.phone)).toHaveLength(3);
  });

  it('counts a voicemail as no answer: the AMD verdict hangs up, and the attempt is retried', async () => {
    h.twilioApi.amdFor(200);
    try {
      const lead = await createLead(h.app.services.orm.em, h.business, { fullName: 'דנה לוי' });
      h.twilioApi.outcomeFor(lead.phone, 'machine');
      const jobId = await schedule(lead.id, 'לתאם ביקור');
      await eventually(() => job(jobId), (row) => row.status === 'NO_ANSWER', 'the attempts to run out', 20_000);
      expect(await job(jobId)).toMatchObject({ attempts: 3, lastOutcome: 'VOICEMAIL' });
      // Each call was hung up through the API once AMD said it was a machine (no stream ever started here).
      const calls = h.twilioApi.placedCalls.filter((call) => call.to === lead.phone);
      const hangUps = calls.map((call) => h.twilioApi.requests.filter((r) => r.path.endsWith(`/Calls/${call.sid}.json`) && r.params.Status === 'completed').length);
      expect(hangUps).toEqual([1, 1, 1]);
    } finally {
      h.twilioApi.amdFor(3_000);
    }
  });

  it('keeps a finished call and its attempt finished when its progress callbacks arrive after the final one', async () => {
    const lead = await createLead(h.app.services.orm.em, h.business, { fullName: 'רון אברהם' });
    h.twilioApi.delayProgressCallbacks(1_500);
    try {
      const jobId = await schedule(lead.id, 'לאשר את הפגישה');
      const placed = await eventually(() => h.twilioApi.placedCalls.find((call) => call.to === lead.phone), Boolean, 'the call at Twilio');
      await h.twilioApi.waitForVoiceTwiml(placed!.sid);
      // The lead hangs up before Twilio's initiated / ringing / answered callbacks have arrived.
      await createTwilioClient({ accountSid: twilioAccountSid, authToken: twilioAuthToken, apiUrl: h.twilioApi.url }).calls(placed!.sid).update({ status: 'completed' });
      const statuses = () => h.twilioApi.callbacks.filter((c) => c.callSid === placed!.sid && c.kind === 'status').map((c) => c.params.CallStatus);
      await eventually(statuses, (seen) => seen.length === 4, 'all four status callbacks');
      // The final status first; the three late ones are separate requests, in any order.
      expect(statuses()[0]).toBe('completed');
      expect(statuses().slice(1).sort()).toEqual(['in-progress', 'initiated', 'ringing']);
      expect(h.twilioApi.callbacks.filter((c) => c.callSid === placed!.sid && c.kind === 'status').every((c) => c.status === 204)).toBe(true);
      expect(await job(jobId)).toMatchObject({ status: 'COMPLETED', attempts: 1, lastOutcome: 'ANSWERED' });
      const row = await sql(h.app.services.orm.em.fork()).selectFrom('Call').select(['status']).where('callSid', '=', placed!.sid).executeTakeFirstOrThrow();
      expect(row.status).toBe('completed');
    } finally {
      h.twilioApi.delayProgressCallbacks(null);
    }
  });

  it('fails the job with Twilio’s reason when Twilio refuses the number, with no retry', async () => {
    const lead = await createLead(h.app.services.orm.em, h.business, { fullName: 'אבי כהן' });
    h.twilioApi.failNext(400, { code: 21211, message: `The 'To' number ${lead.phone} is not a valid phone number.` });
    const jobId = await schedule(lead.id, 'לחזור אליו');
    await eventually(() => job(jobId), (row) => row.status === 'FAILED', 'the job to fail');
    const row = await job(jobId);
    expect(row.attempts).toBe(1);
    expect(row.lastError).toContain('21211');
    // No retry: the failed attempt's dial job has settled, and none is queued after it.
    expect(await settledJobs(h.app.services.orm.em, { name: 'outbound.dial', field: 'outboundJobId', values: [jobId] })).toEqual({ 'outbound.dial': 1 });
    expect(creates(lead.phone)).toHaveLength(1);
  });

  it('moves a retry that would fall on Saturday to Sunday morning', async () => {
    const em = h.app.services.orm.em.fork();
    const settings = await em.findOneOrFail(BusinessSettings, { business: h.business.id });
    const before = { callingHours: settings.callingHours, outboundRetrySpacingSec: settings.outboundRetrySpacingSec, callOnHolidays: settings.callOnHolidays };
    Object.assign(settings, { callingHours: { '0': [{ open: '09:00', close: '20:00' }], '5': [{ open: '09:00', close: '13:00' }] }, outboundRetrySpacingSec: 3600, callOnHolidays: false });
    await em.flush();
    try {
      const lead = await createLead(h.app.services.orm.em, h.business, { fullName: 'רון שחר' });
      const row = await sql(em)
        .insertInto('OutboundCallJob')
        .values({ business: h.business.id, lead: lead.id, purpose: 'לתאם', scheduledAt: new Date('2026-11-27T09:00:00Z'), status: 'dialing', attempts: 1 })
        .returningAll()
        .executeTakeFirstOrThrow();
      // Friday 27 November 2026, 12:30 in Jerusalem: an hour later the Friday window has closed.
      const settled = await settleAttempt(em, h.app.services.queue, { jobId: row.id, callSid: null, outcome: 'busy', now: new Date('2026-11-27T10:30:00Z') });
      // Sunday 29 November, 09:00 in Jerusalem.
      expect(settled).toMatchObject({ status: 'queued', lastOutcome: 'busy', scheduledAt: new Date('2026-11-29T07:00:00Z') });
      const [dial] = await em.getConnection().execute<{ start_after: string }[]>(`select start_after from pgboss.job where name = 'outbound.dial' and data->>'outboundJobId' = ?`, [row.id]);
      expect(new Date(dial!.start_after)).toEqual(new Date('2026-11-29T07:00:00Z'));
    } finally {
      Object.assign(settings, before);
      await em.flush();
    }
  });

  it('takes over an attempt whose worker died before naming its call, and only then', async () => {
    const em = h.app.services.orm.em.fork();
    const lead = await createLead(h.app.services.orm.em, h.business, { fullName: 'מאיה גל' });
    const row = await sql(em)
      .insertInto('OutboundCallJob')
      .values({ business: h.business.id, lead: lead.id, purpose: 'לתאם', scheduledAt: new Date(Date.now() + 86_400_000), status: 'dialing', attempts: 1 })
      .returningAll()
      .executeTakeFirstOrThrow();
    const later = new Date(row.scheduledAt.getTime() + 1_000);
    // Another worker may be placing it right now: the dial job is retried later.
    await expect(claimDialAttempt(em, h.app.services.queue, row.id, new Date(row.updatedAt.getTime() + 5_000))).rejects.toBeInstanceOf(AttemptInFlightError);
    // A minute on and still no call named: that worker is gone, the attempt is placed anew.
    const decision = await claimDialAttempt(em, h.app.services.queue, row.id, later);
    expect(decision).toMatchObject({ action: 'dial', job: { status: 'dialing', attempts: 2, lastCallSid: null }, to: lead.phone });
    // Were every line busy, it would wait queued — not hold a line as a dead attempt.
    await sql(em).updateTable('OutboundCallJob').set({ status: 'dialing', lastCallSid: null }).where('id', '=', row.id).execute();
    await sql(em).updateTable('BusinessSettings').set({ outboundMaxConcurrent: 0 }).where('business', '=', h.business.id).execute();
    try {
      const waiting = await claimDialAttempt(em, h.app.services.queue, row.id, new Date(later.getTime() + 120_000));
      expect(waiting).toMatchObject({ action: 'later', reason: 'lines busy', job: { status: 'queued' } });
    } finally {
      await sql(em).updateTable('BusinessSettings').set({ outboundMaxConcurrent: 5 }).where('business', '=', h.business.id).execute();
    }
    await sql(em).updateTable('OutboundCallJob').set({ status: 'canceled' }).where('id', '=', row.id).execute();
  });
});
