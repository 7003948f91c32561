import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTwilioClient } from '../../src/core/twilio-client.ts';
import { issueApiKey } from '../../src/entities/api-key.repository.ts';
import { BusinessSettings } from '../../src/entities/business-settings.entity.ts';
import { Call } from '../../src/entities/call.entity.ts';
import type { Lead } from '../../src/entities/lead.entity.ts';
import { agentSettings, connectCaller, endedCall, eventually, startCallHarness, type CallHarness } from '../support/calls.ts';
import { createLead } from '../support/factories.ts';
import { graphql } from '../support/graphql.ts';
import { publicUrl, streamOf, twilioAccountSid, twilioAuthToken } from '../support/twilio.ts';

/**
 * Answering machines on outbound calls (issue 17, D12), end to end: the real dialer, the
 * Twilio stand-in taking AMD's realistic 3 s to decide, the media stream to the agent, and
 * the AMD webhook reaching the session that holds the call over the bus.
 */

const allDay = { open: '00:00', close: '24:00' };
const everyDay = Object.fromEntries(['0', '1', '2', '3', '4', '5', '6'].map((day) => [day, [allDay]]));
const voicemail = 'שלום, כאן שיפוצי הגליל. נחזור אליך בהקדם.';

describe('outbound calls and answering machines', () => {
  let h: CallHarness;
  let key: string;
  let admin: string;

  beforeAll(async () => {
    h = await startCallHarness({ pipeline: true, env: { OUTBOUND_CALLS_PER_SECOND: '20' } });
    await agentSettings(h, {});
    const em = h.app.services.orm.em.fork();
    const settings = await em.findOneOrFail(BusinessSettings, { business: h.business.id });
    // One attempt: each test's call settles the job for good.
    Object.assign(settings, { callingHours: everyDay, callOnHolidays: true, outboundMaxAttempts: 1, outboundMaxConcurrent: 5 });
    await em.flush();
    h.twilioApi.routeOrigin(publicUrl, h.app.url);
    h.twilioApi.ringFor(50);
    key = (await issueApiKey(h.app.services.orm.em.fork(), { businessId: h.business.id, role: 'supervisor', name: 'crm' })).key;
    admin = (await issueApiKey(h.app.services.orm.em.fork(), { businessId: h.business.id, role: 'admin', name: 'owner' })).key;
  });
  afterAll(async () => {
    await h?.stop();
  });

  const schedule = async (lead: Lead) => {
    const response = await graphql<{ scheduleOutboundCall: { id: string } }>(
      h.app.url,
      key,
      'mutation($input: ScheduleOutboundCallInput!) { scheduleOutboundCall(input: $input) { ... on OutboundCallJob { id } } }',
      { input: { leadId: lead.id, purpose: 'לתאם ביקור' } },
    );
    return response.data!.scheduleOutboundCall.id;
  };
  const job = async (id: string) =>
    (
      await graphql<{ outboundCallJobs: { nodes: { id: string; status: string; lastOutcome: string | null }[] } }>(h.app.url, key, '{ outboundCallJobs(first: 100) { nodes { id status lastOutcome } } }')
    ).data!.outboundCallJobs.nodes.find((node) => node.id === id)!;
  const setVoicemail = (voicemailMessage: string | null) =>
    graphql<{ updateBusinessSettings: { __typename: string; voicemailMessage?: string | null; fieldErrors?: { path: string[]; message: string }[] } }>(
      h.app.url,
      admin,
      `mutation ($input: UpdateBusinessSettingsInput!) { updateBusinessSettings(input: $input) {
        __typename ... on BusinessSettings { voicemailMessage } ... on ValidationError { fieldErrors { path message } } } }`,
      { input: { voicemailMessage } },
    );
  /** Dials `lead` and answers the stream as Twilio would: the SimulatedCaller is whoever picked up. */
  const dialAndConnect = async (lead: Lead) => {
    const jobId = await schedule(lead);
    const placed = await eventually(() => h.twilioApi.placedCalls.find((call) => call.to === lead.phone), Boolean, 'the call at Twilio');
    const twiml = await h.twilioApi.waitForVoiceTwiml(placed!.sid);
    const caller = await connectCaller(h, placed!.sid, streamOf(twiml).token);
    caller.start();
    return { jobId, callSid: placed!.sid, caller, create: placed!.params };
  };
  /** AMD verdicts the application has had for the call so far: `amd: human`, or `voice: human` under synchronous AMD. */
  const verdicts = (callSid: string) =>
    h.twilioApi.callbacks.filter((c) => c.callSid === callSid && (c.kind === 'amd' || c.params.AnsweredBy !== undefined)).map((c) => `${c.kind}: ${c.params.AnsweredBy}`);
  const callUpdates = (callSid: string) => h.twilioApi.requests.filter((r) => r.method === 'POST' && r.path.endsWith(`/Calls/${callSid}.json`));

  it('D12: a person who answers hears the agent before detection ends (async AMD, no dead air)', async () => {
    h.twilioApi.amdFor(3_000);
    const lead = await createLead(h.app.services.orm.em, h.business, { fullName: 'נועה ברק' });
    const { jobId, callSid, caller, create } = await dialAndConnect(lead);
    await caller.waitFor((message) => message.event === 'media', 10_000);
    // The greeting reached the person while AMD was still listening.
    expect(verdicts(callSid)).toEqual([]);
    expect(create).toMatchObject({ MachineDetection: 'Enable', AsyncAmd: 'true', AsyncAmdStatusCallback: `${publicUrl}/twilio/amd?outboundJob=${jobId}`, AsyncAmdStatusCallbackMethod: 'POST' });

    const verdict = await h.twilioApi.waitForCallback((c) => c.callSid === callSid && c.kind === 'amd', 10_000);
    expect(verdict).toMatchObject({ status: 204, params: { AnsweredBy: 'human' } });
    const row = await h.app.services.orm.em.fork().findOneOrFail(Call, { callSid });
    expect(row).toMatchObject({ answeredBy: 'human', endReason: null });
    // A person's verdict changes nothing: the call goes on.
    expect(callUpdates(callSid)).toEqual([]);

    caller.stop();
    await caller.closed;
    await createTwilioClient({ accountSid: twilioAccountSid, authToken: twilioAuthToken, apiUrl: h.twilioApi.url }).calls(callSid).update({ status: 'completed' });
    await eventually(() => job(jobId), (row) => row.status === 'COMPLETED', 'the job to complete');
    expect((await job(jobId)).lastOutcome).toBe('ANSWERED');
  });

  it('D12: a machine verdict during the call ends it as no answer, with the session’s own reason', async () => {
    h.twilioApi.amdFor(3_000);
    const lead = await createLead(h.app.services.orm.em, h.business, { fullName: 'גיל אור' });
    h.twilioApi.outcomeFor(lead.phone, 'machine');
    const { jobId, callSid, caller } = await dialAndConnect(lead);
    await caller.waitFor((message) => message.event === 'media', 10_000);

    const verdict = await h.twilioApi.waitForCallback((c) => c.callSid === callSid && c.kind === 'amd', 10_000);
    expect(verdict.params.AnsweredBy).toBe('machine_start');
    const row = await endedCall(h, callSid);
    expect(row).toMatchObject({ endReason: 'answering machine', answeredBy: 'machine_start' });
    expect(callUpdates(callSid).map((r) => r.params.Status)).toEqual(['completed']);
    await eventually(() => job(jobId), (row) => row.status === 'NO_ANSWER', 'the attempt to settle');
    expect((await job(jobId)).lastOutcome).toBe('VOICEMAIL');
  });

  it('D12: with a voicemail message, waits for the beep, says it with a Hebrew voice, and hangs up', async () => {
    h.twilioApi.amdFor(3_000, { greetingMs: 2_000 });
    expect((await setVoicemail(voicemail)).data!.updateBusinessSettings).toEqual({ __typename: 'BusinessSettings', voicemailMessage: voicemail });
    try {
      const lead = await createLead(h.app.services.orm.em, h.business, { fullName: 'תמר שני' });
      h.twilioApi.outcomeFor(lead.phone, 'machine');
      const { jobId, callSid, create } = await dialAndConnect(lead);
      expect(create).toMatchObject({ MachineDetection: 'DetectMessageEnd', AsyncAmd: 'true' });

      const update = await h.twilioApi.waitForRequest((r) => r.path.endsWith(`/Calls/${callSid}.json`) && r.params.Twiml !== undefined, 15_000);
      expect(update.params.Twiml).toContain(`<Say language="he-IL" voice="Google.he-IL-Standard-A">${voicemail}</Say><Hangup/>`);
      const verdict = await h.twilioApi.waitForCallback((c) => c.callSid === callSid && c.kind === 'amd');
      expect(verdict).toMatchObject({ status: 204, params: { AnsweredBy: 'machine_end_beep' } });
      expect(await endedCall(h, callSid)).toMatchObject({ endReason: 'voicemail left', answeredBy: 'machine_end_beep' });
      // The call ends once Twilio has said the message; the attempt counts as voicemail.
      await h.twilioApi.waitForCallback((c) => c.callSid === callSid && c.kind === 'status' && c.params.CallStatus === 'completed', 10_000);
      await eventually(() => job(jobId), (row) => row.status === 'NO_ANSWER', 'the attempt to settle');
      expect((await job(jobId)).lastOutcome).toBe('VOICEMAIL');
    } finally {
      await setVoicemail(null);
    }
  });

  it('D12: a machine whose stream never started is hung up on by the webhook itself', async () => {
    h.twilioApi.amdFor(300);
    const lead = await createLead(h.app.services.orm.em, h.business, { fullName: 'עדי רם' });
    h.twilioApi.outcomeFor(lead.phone, 'machine');
    const jobId = await schedule(lead);
    const placed = await eventually(() => h.twilioApi.placedCalls.find((call) => call.to === lead.phone), Boolean, 'the call at Twilio');
    // No stream connects: no session holds the call when the verdict comes.
    await h.twilioApi.waitForCallback((c) => c.callSid === placed!.sid && c.kind === 'amd', 10_000);
    expect(callUpdates(placed!.sid).map((r) => r.params.Status)).toEqual(['completed']);
    await eventually(() => job(jobId), (row) => row.status === 'NO_ANSWER', 'the attempt to settle');
    expect((await job(jobId)).lastOutcome).toBe('VOICEMAIL');
  });

  it('refuses a voicemail message over 500 characters; a blank one clears it', async () => {
    const long = await setVoicemail('א'.repeat(501));
    expect(long.data!.updateBusinessSettings).toMatchObject({ __typename: 'ValidationError', fieldErrors: [{ path: ['input', 'voicemailMessage'], message: expect.stringContaining('500') }] });
    expect((await setVoicemail('   ')).data!.updateBusinessSettings).toEqual({ __typename: 'BusinessSettings', voicemailMessage: null });
  });
});
