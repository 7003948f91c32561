import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BusinessSettings } from '../../src/entities/business-settings.entity.ts';
import { Call } from '../../src/entities/call.entity.ts';
import { Lead } from '../../src/entities/lead.entity.ts';
import { verifyStreamToken } from '../../src/realtime/twilio-line/stream-token.ts';
import { sayAlerts } from '../../src/sandbox/twiml-say.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import { createBusiness } from '../support/factories.ts';
import { callEnvironment, postTwilioWebhook, publicUrl, streamOf, twilioAccountSid } from '../support/twilio.ts';

const businessNumber = '+97233824199';

function voiceParams(callSid: string, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    AccountSid: twilioAccountSid,
    CallSid: callSid,
    From: '050-765-4321',
    To: businessNumber,
    Direction: 'inbound',
    CallStatus: 'ringing',
    ...overrides,
  };
}

describe('Twilio webhooks', () => {
  let app: TestApp;
  let businessId: string;

  beforeAll(async () => {
    // No startRecording here: these tests talk to no Twilio at all.
    app = await startTestApp(callEnvironment(), { startRecording: async () => {} });
    const business = await createBusiness(app.services.orm.em, { phone: businessNumber, name: 'שיפוצי הגליל' });
    businessId = business.id;
    const em = app.services.orm.em.fork();
    const settings = await em.findOneOrFail(BusinessSettings, { business: businessId });
    settings.recordCalls = false;
    await em.flush();
  });
  afterAll(async () => {
    await app?.stop();
  });

  const calls = () => app.services.orm.em.fork().count(Call, {});

  it('rejects unsigned and tampered requests with 403 and writes nothing', async () => {
    const before = await calls();
    const rejectedBefore = app.services.metrics.get('twilio_webhook_rejected_total');
    const unsigned = await postTwilioWebhook(app.url, '/twilio/voice', voiceParams('CA00000000000000000000000000000001'), { signature: null });
    expect(unsigned.status).toBe(403);
    const wrong = await postTwilioWebhook(app.url, '/twilio/voice', voiceParams('CA00000000000000000000000000000002'), {
      signature: 'bm90IGEgc2lnbmF0dXJl',
    });
    expect(wrong.status).toBe(403);
    // Signed for one set of parameters, sent with another.
    const signedFor = voiceParams('CA00000000000000000000000000000003');
    const tampered = await fetch(`${app.url}/twilio/voice`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': (await import('twilio')).default.getExpectedTwilioSignature('test-twilio-auth-token', `${publicUrl}/twilio/voice`, signedFor),
      },
      body: new URLSearchParams({ ...signedFor, From: '+972500000000' }).toString(),
    });
    expect(tampered.status).toBe(403);
    const status = await postTwilioWebhook(app.url, '/twilio/status', { CallSid: 'CA1', CallStatus: 'completed' }, { signature: null });
    expect(status.status).toBe(403);
    const amd = await postTwilioWebhook(app.url, '/twilio/amd', { CallSid: 'CA1', AnsweredBy: 'machine_start' }, { signature: null });
    expect(amd.status).toBe(403);

    expect(await calls()).toBe(before);
    expect(app.services.metrics.get('twilio_webhook_rejected_total') - rejectedBefore).toBe(5);
  });

  it('connects a call to a known number to the agent over a signed media stream', async () => {
    const callSid = 'CA00000000000000000000000000000010';
    const response = await postTwilioWebhook(app.url, '/twilio/voice', voiceParams(callSid));
    expect(response.status).toBe(200);
    const stream = streamOf(response.body);
    expect(stream.url).toBe('wss://callwatch.test/twilio/media');
    expect(response.body).not.toMatch(/twilio\/media\?/);

    const em = app.services.orm.em.fork();
    const call = await em.findOneOrFail(Call, { callSid }, { populate: ['lead'] });
    expect(call).toMatchObject({ direction: 'inbound', status: 'in-progress', fromNumber: '050-765-4321', toNumber: businessNumber });
    expect(call.lead?.phone).toBe('+972507654321');
    const check = verifyStreamToken(stream.token, app.services.config.appSecret);
    expect(check).toMatchObject({ ok: true, claims: { callSid, callId: call.id, businessId, leadId: call.lead?.id } });
  });

  it('keeps one call row and one lead when Twilio retries the webhook', async () => {
    const callSid = 'CA00000000000000000000000000000011';
    const params = voiceParams(callSid, { From: '+972507770000' });
    expect((await postTwilioWebhook(app.url, '/twilio/voice', params)).status).toBe(200);
    expect((await postTwilioWebhook(app.url, '/twilio/voice', params)).status).toBe(200);
    const em = app.services.orm.em.fork();
    expect(await em.count(Call, { callSid })).toBe(1);
    expect(await em.count(Lead, { phone: '+972507770000' })).toBe(1);
  });

  it('answers a number nobody owns politely in Hebrew, in a voice that speaks Hebrew, and hangs up (regression: no voice, so Twilio\'s default `man` could not say it)', async () => {
    const before = await calls();
    const callSid = 'CA00000000000000000000000000000012';
    const response = await postTwilioWebhook(app.url, '/twilio/voice', voiceParams(callSid, { To: '+97239999999' }));
    expect(response.status).toBe(200);
    // Twilio raises no alert running it: the <Say> plays.
    expect(sayAlerts(callSid, response.body)).toEqual([]);
    expect(response.body).toContain('<Say language="he-IL" voice="Google.he-IL-Standard-A">');
    expect(response.body).toContain('<Hangup/>');
    expect(response.body).not.toContain('<Stream');
    expect(await calls()).toBe(before);
  });

  it('records status callbacks on the call', async () => {
    const callSid = 'CA00000000000000000000000000000013';
    await postTwilioWebhook(app.url, '/twilio/voice', voiceParams(callSid));
    const response = await postTwilioWebhook(app.url, '/twilio/status', { CallSid: callSid, CallStatus: 'in-progress', AccountSid: twilioAccountSid });
    expect(response.status).toBe(204);
    expect(await app.services.orm.em.fork().findOneOrFail(Call, { callSid })).toMatchObject({ status: 'in-progress' });
  });

  it('ignores a `ringing` callback that arrives after the call was answered (regression: the answered call went back to ringing, and subscribers were told so)', async () => {
    const callSid = 'CA00000000000000000000000000000015';
    await postTwilioWebhook(app.url, '/twilio/voice', voiceParams(callSid));
    const statuses: string[] = [];
    const events = app.services.bus.subscribe('business:calls', businessId)[Symbol.asyncIterator]();
    try {
      // The subscription is in place once its first `next` is asked for.
      let next = events.next();
      const late = await postTwilioWebhook(app.url, '/twilio/status', { CallSid: callSid, CallStatus: 'ringing', AccountSid: twilioAccountSid });
      expect(late.status).toBe(204);
      expect(await app.services.orm.em.fork().findOneOrFail(Call, { callSid })).toMatchObject({ status: 'in-progress' });

      await postTwilioWebhook(app.url, '/twilio/status', { CallSid: callSid, CallStatus: 'completed', CallDuration: '12', AccountSid: twilioAccountSid });
      for (;;) {
        const { value, done } = await next;
        if (done) break;
        if (value.type === 'call.status' && value.callSid === callSid) statuses.push(value.status);
        if (statuses.includes('completed')) break;
        next = events.next();
      }
    } finally {
      await events.return?.();
    }
    expect(statuses).toEqual(['completed']);
    expect(await app.services.orm.em.fork().findOneOrFail(Call, { callSid })).toMatchObject({ status: 'completed', durationSec: 12 });
  });

  it('stores the recording and starts the pipeline once, however often Twilio calls back', async () => {
    const callSid = 'CA00000000000000000000000000000014';
    await postTwilioWebhook(app.url, '/twilio/voice', voiceParams(callSid));
    const params = {
      AccountSid: twilioAccountSid,
      CallSid: callSid,
      RecordingSid: `RE${'a'.repeat(32)}`,
      RecordingUrl: `https://api.twilio.com/2010-04-01/Accounts/${twilioAccountSid}/Recordings/RE${'a'.repeat(32)}`,
      RecordingStatus: 'completed',
    };
    expect((await postTwilioWebhook(app.url, '/twilio/recording', params)).status).toBe(204);
    expect((await postTwilioWebhook(app.url, '/twilio/recording', params)).status).toBe(204);

    const call = await app.services.orm.em.fork().findOneOrFail(Call, { callSid });
    expect(call).toMatchObject({ recordingSid: params.RecordingSid, recordingUrl: params.RecordingUrl });
    const job = await app.services.queue.getJob('call.process', call.id);
    expect(job).toMatchObject({ data: { callId: call.id } });
  });
});
