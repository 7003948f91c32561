import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { Call } from '../../src/entities/call.entity.ts';
import { issueApiKey } from '../../src/entities/api-key.repository.ts';
import { WebhookDelivery } from '../../src/entities/webhook-delivery.entity.ts';
import { eventually } from '../support/calls.ts';
import { graphql } from '../support/graphql.ts';
import { settledJobs as settled } from '../support/jobs.ts';
import { startPipelineHarness, type PipelineHarness } from '../support/pipeline.ts';

/**
 * The post-call pipeline end to end, in-process: Twilio's recording callback → download
 * (Twilio REST stand-in) → transcription, summary, extraction (OpenAI REST stand-in, via
 * the official SDK) → one signed `call.completed` webhook at a receiver that verifies it
 * with the `standardwebhooks` library.
 */

const said = 'יש לי נזילה בתל אביב, זה דחוף, התקציב 500 שקל.';
/** The harness's recording has the caller speak once: one request, one labelled line. */
const transcript = `Caller: ${said}`;
const summary = 'מיכל כהן מתל אביב דיווחה על נזילה דחופה; תקציב 500 ₪.';

describe('post-call pipeline', () => {
  let h: PipelineHarness;

  beforeAll(async () => {
    h = await startPipelineHarness();
    h.openai.handle({
      transcribe: () => said,
      respond: (request) =>
        request.format.type === 'json_schema' ? { city: 'ת"א', service_category: 'תיקון נזילה', fields: { budget_nis: 500, urgent: true } } : summary,
    });
  });
  afterAll(async () => {
    await h?.stop();
  });

  const callRow = (id: string) => h.app.services.orm.em.fork().findOneOrFail(Call, { id });

  it('delivers one signed call.completed webhook with every field right', async () => {
    const { call, recordingSid } = await h.recordedCall();
    expect(await h.recordingCallback(call, recordingSid)).toBe(204);
    const delivery = await h.receiver.waitForDelivery((d) => d.payload?.call_id === call.callSid);

    expect(delivery.verified).toBe(true);
    expect(delivery.status).toBe(200);
    expect(delivery.webhookId).toMatch(/^msg_[0-9a-f]{32}$/);
    // The library the business would use accepts it, with the business's own secret.
    const settingsSecret = h.receiver.secret;
    expect(() => new Webhook(settingsSecret).verify(delivery.body, { 'webhook-id': delivery.webhookId!, 'webhook-timestamp': delivery.timestamp!, 'webhook-signature': delivery.signature! })).not.toThrow();

    expect(delivery.payload).toEqual({
      event_type: 'call.completed',
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      business_id: h.businessId,
      call_id: call.callSid,
      callwatch_call_id: call.id,
      lead_id: h.leadId,
      phone: '+972501112233',
      direction: 'inbound',
      status: 'completed',
      started_at: '2026-11-22T08:00:00.000Z',
      ended_at: '2026-11-22T08:01:35.000Z',
      duration_sec: 95,
      recording_url: `https://api.twilio.com/2010-04-01/Accounts/${h.env.TWILIO_ACCOUNT_SID}/Recordings/${recordingSid}`,
      city: 'תל אביב-יפו',
      service_category: 'תיקון נזילה',
      summary,
      transcript,
      transcript_source: 'recording',
      extracted: { budget_nis: 500, urgent: true },
      appointment: null,
      revision: 0,
      errors: {},
      // A call written whole (no session measured it): unknown, so null (test/e2e/call-latency-usage.test.ts has a measured one).
      latency: null,
      usage: null,
    });

    const stored = await callRow(call.id);
    expect(stored).toMatchObject({ finalTranscript: transcript, summary, extractedCity: 'תל אביב-יפו', extractedService: 'תיקון נזילה', pipelineStatus: 'completed' });
    expect(Object.fromEntries(Object.entries(stored.pipelineSteps).map(([step, state]) => [step, state?.status]))).toEqual({
      download: 'done',
      transcribe: 'done',
      summarize: 'done',
      extract: 'done',
      deliver: 'done',
    });
    // The transcription request carried the caller's speech (a mono WAV of it), the business
    // language, and the vocabulary hints: the business's name and city names.
    const transcription = h.openai.calls.find((c) => c.endpoint === 'transcriptions')?.transcription;
    expect(transcription).toMatchObject({ language: 'he', filename: 'recording.wav', model: 'gpt-transcribe', channels: 1 });
    expect(transcription?.audio.subarray(0, 4).toString()).toBe('RIFF');
    expect(transcription?.durationSec).toBeCloseTo(1.4, 1);
    expect(transcription?.prompt).toMatch(/^אינסטלציה גולן, .*תל אביב-יפו, ירושלים, חיפה/);
    expect(transcription?.prompt?.length).toBeLessThanOrEqual(600);
    expect(transcription?.keywords.slice(0, 3)).toEqual(['אינסטלציה גולן', 'תל אביב-יפו', 'ירושלים']);
  });

  it('retries a receiver that answers 500 twice: delivered once, the same webhook-id on all three attempts', async () => {
    const { call, recordingSid } = await h.recordedCall();
    h.receiver.respondWith(500, 500);
    await h.recordingCallback(call, recordingSid);
    await h.receiver.waitForDelivery((d) => d.payload?.call_id === call.callSid && d.status === 200);

    const seen = h.deliveriesFor(call);
    expect(seen.map((d) => d.status)).toEqual([500, 500, 200]);
    expect(new Set(seen.map((d) => d.webhookId)).size).toBe(1);
    expect(seen.every((d) => d.verified)).toBe(true);
    await eventually(async () => (await deliveryOf(call.id)).status, (status) => status === 'delivered', 'the delivery recorded as delivered');
    const delivery = await deliveryOf(call.id);
    expect(delivery).toMatchObject({ status: 'delivered', webhookId: seen[0]?.webhookId, nextAttemptAt: null });
    expect(delivery.attempts.map((a) => a.statusCode)).toEqual([500, 500, 200]);
    expect(delivery.attempts[0]?.error).toMatch(/^500/);
  });

  it('gives up at once on a 410: failed, no retry', async () => {
    const { call, recordingSid } = await h.recordedCall();
    h.receiver.respondWith(410);
    await h.recordingCallback(call, recordingSid);
    await h.receiver.waitForDelivery((d) => d.payload?.call_id === call.callSid);
    await eventually(async () => (await deliveryOf(call.id)).status, (status) => status !== 'pending', 'the delivery no longer pending');
    // No retry is queued: the one delivery job has run, and no other follows it.
    expect(await settledJobs(call.id)).toEqual({ 'call.process': 1, 'webhook.deliver': 1 });
    expect(h.deliveriesFor(call)).toHaveLength(1);
    expect(await deliveryOf(call.id)).toMatchObject({ status: 'failed', nextAttemptAt: null, attempts: [expect.objectContaining({ statusCode: 410 })] });
  });

  it('starts one pipeline however often Twilio repeats the recording callback', async () => {
    const { call, recordingSid } = await h.recordedCall();
    const before = { transcriptions: h.openai.count('transcriptions'), responses: h.openai.count('responses') };
    const statuses = await Promise.all([1, 2, 3].map(() => h.recordingCallback(call, recordingSid)));
    expect(statuses).toEqual([204, 204, 204]);
    await h.receiver.waitForDelivery((d) => d.payload?.call_id === call.callSid);
    await h.recordingCallback(call, recordingSid);
    // Every job the callbacks queued has run: one pipeline, one delivery.
    expect(await settledJobs(call.id)).toEqual({ 'call.process': 1, 'webhook.deliver': 1 });

    expect(h.deliveriesFor(call)).toHaveLength(1);
    expect(h.twilioApi.downloads(recordingSid)).toBe(1);
    expect(h.openai.count('transcriptions') - before.transcriptions).toBe(1);
    expect(h.openai.count('responses') - before.responses).toBe(2);
  });

  it('delivers null transcript fields and keeps the error on the call when transcription fails for good', async () => {
    const { call, recordingSid } = await h.recordedCall();
    h.openai.failNext('transcriptions', { status: 400, message: 'Audio file might be corrupted or unsupported', code: 'invalid_value' });
    await h.recordingCallback(call, recordingSid);
    const delivery = await h.receiver.waitForDelivery((d) => d.payload?.call_id === call.callSid);

    expect(delivery.verified).toBe(true);
    expect(delivery.payload).toMatchObject({ transcript: null, transcript_source: null, errors: { transcribe: expect.stringMatching(/^transcription: OpenAI answered 400: .*corrupted/) } });
    // Summary and fields still come, from what the realtime session heard.
    expect(delivery.payload).toMatchObject({ summary, city: 'תל אביב-יפו' });
    const stored = await callRow(call.id);
    expect(stored.finalTranscript).toBeNull();
    expect(stored.pipelineStatus).toBe('failed');
    expect(stored.pipelineSteps.transcribe).toMatchObject({ status: 'failed', error: expect.stringContaining('OpenAI answered 400') });
  });

  it('uses the realtime transcript when Twilio recorded nothing', async () => {
    const { call, recordingSid } = await h.recordedCall();
    await h.recordingCallback(call, recordingSid, 'absent');
    const delivery = await h.receiver.waitForDelivery((d) => d.payload?.call_id === call.callSid);
    expect(delivery.payload).toMatchObject({
      transcript: 'Agent: שלום מיכל, ברוכה הבאה לאינסטלציה גולן. במה אפשר לעזור?\nCaller: יש לי נזילה בתל אביב, זה דחוף',
      transcript_source: 'realtime',
      recording_url: null,
      errors: {},
    });
    expect(h.twilioApi.downloads(recordingSid)).toBe(0);
    expect((await callRow(call.id)).pipelineSteps).toMatchObject({ download: { status: 'skipped', reason: 'the call has no recording' }, transcribe: { status: 'skipped' } });
  });

  it('lets an admin reprocess a call (a new webhook) and redeliver a webhook (the same one again), and shows the pipeline on the call', async () => {
    const { key: admin } = await issueApiKey(h.app.services.orm.em.fork(), { businessId: h.businessId, role: 'admin', name: 'ops' });
    const { key: viewer } = await issueApiKey(h.app.services.orm.em.fork(), { businessId: h.businessId, role: 'viewer', name: 'crm' });
    const { call, recordingSid } = await h.recordedCall();
    await h.recordingCallback(call, recordingSid);
    const first = await h.receiver.waitForDelivery((d) => d.payload?.call_id === call.callSid);

    const shown = await graphql(h.app.url, viewer, 'query($id: ID!) { call(id: $id) { pipelineStatus pipelineRevision pipelineSteps { step outcome error reason } webhookDeliveries { webhookId status revision } } }', { id: call.id });
    expect(shown.errors).toBeUndefined();
    expect(shown.data?.call).toMatchObject({
      pipelineStatus: 'COMPLETED',
      pipelineRevision: 0,
      pipelineSteps: [
        { step: 'DOWNLOAD', outcome: 'DONE', error: null, reason: null },
        { step: 'TRANSCRIBE', outcome: 'DONE' },
        { step: 'SUMMARIZE', outcome: 'DONE' },
        { step: 'EXTRACT', outcome: 'DONE' },
        { step: 'DELIVER', outcome: 'DONE' },
      ],
    });

    const redelivered = await graphql(h.app.url, admin, 'mutation($id: ID!) { redeliverWebhook(deliveryId: $id) { __typename ... on WebhookDelivery { status webhookId } } }', { id: (await deliveryOf(call.id)).id });
    expect(redelivered.data?.redeliverWebhook).toMatchObject({ __typename: 'WebhookDelivery', status: 'PENDING', webhookId: first.webhookId });
    await eventually(() => h.deliveriesFor(call).length, (n) => n === 2, 'the second delivery');
    expect(h.deliveriesFor(call)[1]).toMatchObject({ webhookId: first.webhookId, verified: true, body: first.body });

    h.openai.handle({ transcribe: () => 'תמליל מתוקן' });
    const reprocessed = await graphql(h.app.url, admin, 'mutation($id: ID!) { reprocessCall(callId: $id) { __typename ... on Call { pipelineRevision pipelineStatus } } }', { id: call.id });
    expect(reprocessed.data?.reprocessCall).toEqual({ __typename: 'Call', pipelineRevision: 1, pipelineStatus: 'PENDING' });
    const second = await h.receiver.waitForDelivery((d) => d.payload?.call_id === call.callSid && d.payload?.revision === 1);
    expect(second.webhookId).not.toBe(first.webhookId);
    expect(second.payload).toMatchObject({ transcript: 'Caller: תמליל מתוקן', revision: 1 });
    expect(h.twilioApi.downloads(recordingSid)).toBe(2);

    const refused = await graphql(h.app.url, viewer, 'mutation($id: ID!) { reprocessCall(callId: $id) { __typename } }', { id: call.id });
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const live = await h.recordedCall({ status: 'in-progress' });
    const conflict = await graphql(h.app.url, admin, 'mutation($id: ID!) { reprocessCall(callId: $id) { __typename ... on ConflictError { message } } }', { id: live.call.id });
    expect(conflict.data?.reprocessCall).toEqual({ __typename: 'ConflictError', message: 'The call is still in progress; it is processed when it ends.' });
  });

  it('waits for the call to be written when the recording callback overtakes the end of the media stream', async () => {
    const { call, recordingSid } = await h.recordedCall({ status: 'in-progress', endedAt: null, durationSec: null, transcriptTurns: [] });
    await h.recordingCallback(call, recordingSid);
    // The pipeline's first attempt has run and put itself off (a retry, seconds later), delivering nothing.
    expect(await settledJobs(call.id)).toEqual({ 'call.process': 1 });
    expect(h.deliveriesFor(call)).toHaveLength(0);
    // The media stream's end writes the call (call-outcome.ts does this in one statement).
    await h.app.services.orm.em.fork().nativeUpdate(Call, { id: call.id }, { status: 'completed', endedAt: new Date('2026-11-22T08:01:35Z'), durationSec: 95 });

    const delivery = await h.receiver.waitForDelivery((d) => d.payload?.call_id === call.callSid, 15_000);
    expect(delivery.payload).toMatchObject({ status: 'completed', duration_sec: 95, ended_at: '2026-11-22T08:01:35.000Z' });
  });

  it('retries a recording download Twilio answers with 503, and downloads it once', async () => {
    const { call, recordingSid } = await h.recordedCall();
    const errorsBefore = h.app.services.metrics.getLabeled('twilio_rest_errors_total', '503');
    h.twilioApi.failNext(503);
    await h.recordingCallback(call, recordingSid);
    const delivery = await h.receiver.waitForDelivery((d) => d.payload?.call_id === call.callSid, 15_000);
    expect(delivery.payload).toMatchObject({ transcript_source: 'recording', errors: {} });
    expect(h.twilioApi.requests.filter((r) => r.path.endsWith(`${recordingSid}.wav`)).map((r) => r.status)).toEqual([503, 200]);
    expect(h.twilioApi.downloads(recordingSid)).toBe(1);
    expect(h.app.services.metrics.getLabeled('twilio_rest_errors_total', '503') - errorsBefore).toBe(1);
  });

  /** Waits until one call's pipeline jobs (call.process, webhook.deliver) have settled; counts them by name. */
  async function settledJobs(callId: string): Promise<Record<string, number>> {
    const deliveryIds = (await h.app.services.orm.em.fork().find(WebhookDelivery, { call: callId })).map((delivery) => delivery.id);
    return settled(
      h.app.services.orm.em,
      { name: 'call.process', field: 'callId', values: [callId] },
      { name: 'webhook.deliver', field: 'deliveryId', values: deliveryIds },
    );
  }

  async function deliveryOf(callId: string) {
    return h.app.services.orm.em.fork().findOneOrFail(WebhookDelivery, { call: callId }, { orderBy: { revision: 'desc' } });
  }
});

describe('a webhook receiver that stays down', () => {
  let h: PipelineHarness;

  beforeAll(async () => {
    // A one-second retry window instead of a day.
    h = await startPipelineHarness({ env: { WEBHOOK_RETRY_FOR_SEC: '1' } });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('is retried with growing delays until the window closes, then the delivery is dead', async () => {
    const { call, recordingSid } = await h.recordedCall();
    h.receiver.respond(() => 503);
    await h.recordingCallback(call, recordingSid);
    const em = () => h.app.services.orm.em.fork();
    await eventually(async () => (await em().findOne(WebhookDelivery, { call: call.id }))?.status, (status) => status === 'dead', 'the delivery dead');

    const delivery = await em().findOneOrFail(WebhookDelivery, { call: call.id });
    expect(delivery.attempts.length).toBeGreaterThanOrEqual(2);
    expect(delivery.attempts.every((attempt) => attempt.statusCode === 503)).toBe(true);
    expect(delivery.nextAttemptAt).toBeNull();
    const times = delivery.attempts.map((attempt) => Date.parse(attempt.at));
    const gaps = times.slice(1).map((time, index) => time - (times[index] ?? 0));
    expect(gaps.every((gap) => gap >= 80)).toBe(true);
    expect(h.deliveriesFor(call)).toHaveLength(delivery.attempts.length);
    expect(new Set(h.deliveriesFor(call).map((d) => d.webhookId)).size).toBe(1);
  });
});
