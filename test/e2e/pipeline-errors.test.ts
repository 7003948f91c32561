import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Call } from '../../src/entities/call.entity.ts';
import { issueApiKey } from '../../src/entities/api-key.repository.ts';
import type { ResponseHandler } from '../../src/sandbox/openai-api.server.ts';
import { graphql } from '../support/graphql.ts';
import { startPipelineHarness, type PipelineHarness } from '../support/pipeline.ts';

/**
 * How the post-call pipeline meets OpenAI errors no retry fixes, end to end against the
 * OpenAI REST stand-in (through the official SDK) and the CRM receiver.
 */

const transcript = 'סוכן: שלום מיכל. לקוחה: יש לי נזילה בתל אביב, זה דחוף, התקציב 500 שקל.';
const summary = 'מיכל כהן מתל אביב דיווחה על נזילה דחופה; תקציב 500 ₪.';
const fields = { city: 'ת"א', service_category: 'תיקון נזילה', fields: { budget_nis: 500, urgent: true } };
const respond: ResponseHandler = (request) => (request.format.type === 'json_schema' ? fields : summary);
const quota = { status: 429, code: 'insufficient_quota' } as const;

describe('pipeline errors', () => {
  let h: PipelineHarness;

  beforeAll(async () => {
    h = await startPipelineHarness();
  });
  beforeEach(() => {
    h.openai.handle({ transcribe: () => transcript, respond });
  });
  afterEach(() => {
    h.openai.failNext('transcriptions', quota, 0);
    h.openai.failNext('responses', quota, 0);
  });
  afterAll(async () => {
    await h?.stop();
  });

  const callRow = (id: string) => h.app.services.orm.em.fork().findOneOrFail(Call, { id });
  const quotaError = (what: string) => `${what}: OpenAI: the account has no quota left (insufficient_quota) — check billing`;

  it('fails every AI step at once when the OpenAI account has no quota left (regression: insufficient_quota was retried to the last attempt)', async () => {
    const { call, recordingSid } = await h.recordedCall();
    const before = { transcriptions: h.openai.count('transcriptions'), responses: h.openai.count('responses') };
    const errorsBefore = h.app.services.metrics.getLabeled('openai_rest_errors_total', '429');
    h.openai.failNext('transcriptions', quota, Infinity);
    h.openai.failNext('responses', quota, Infinity);
    await h.recordingCallback(call, recordingSid);
    const delivery = await h.receiver.waitForDelivery((d) => d.payload?.call_id === call.callSid, 8_000);

    expect(delivery.payload).toMatchObject({
      transcript: null,
      summary: null,
      city: null,
      service_category: null,
      extracted: null,
      errors: { transcribe: quotaError('transcription'), summarize: quotaError('summary'), extract: quotaError('extraction') },
    });
    // One request each: neither the SDK nor the job tried again.
    expect(h.openai.count('transcriptions') - before.transcriptions).toBe(1);
    expect(h.openai.count('responses') - before.responses).toBe(2);
    // Each refused request is counted by its status.
    expect(h.app.services.metrics.getLabeled('openai_rest_errors_total', '429') - errorsBefore).toBe(3);
    expect(h.deliveriesFor(call)).toHaveLength(1);
    const stored = await callRow(call.id);
    expect(stored.pipelineStatus).toBe('failed');
    expect(stored.pipelineSteps.summarize).toMatchObject({ status: 'failed', error: quotaError('summary') });
  });

  it('still retries a rate limit (429 rate_limit_exceeded): the step succeeds once it passes', async () => {
    const { call, recordingSid } = await h.recordedCall();
    h.openai.failNext('responses', { status: 429 }, 3); // the SDK's three tries of the summary
    await h.recordingCallback(call, recordingSid);
    const delivery = await h.receiver.waitForDelivery((d) => d.payload?.call_id === call.callSid, 15_000);
    expect(delivery.payload).toMatchObject({ summary, errors: {} });
    expect(h.openai.calls.filter((c) => c.endpoint === 'responses' && c.status === 429).length).toBeGreaterThanOrEqual(3);
  });

  it('shows null beside the error when a reprocess fails a step, never the previous revision\'s value (regression: the old summary and fields stayed)', async () => {
    const { key: admin } = await issueApiKey(h.app.services.orm.em.fork(), { businessId: h.businessId, role: 'admin', name: 'ops' });
    const { call, recordingSid } = await h.recordedCall();
    await h.recordingCallback(call, recordingSid);
    const first = await h.receiver.waitForDelivery((d) => d.payload?.call_id === call.callSid);
    expect(first.payload).toMatchObject({ summary, city: 'תל אביב-יפו', extracted: { budget_nis: 500, urgent: true }, errors: {} });

    const reprocess = async (revision: number) => {
      const answer = await graphql(h.app.url, admin, 'mutation($id: ID!) { reprocessCall(callId: $id) { __typename ... on Call { pipelineRevision } } }', { id: call.id });
      expect(answer.data?.reprocessCall).toEqual({ __typename: 'Call', pipelineRevision: revision });
      return h.receiver.waitForDelivery((d) => d.payload?.call_id === call.callSid && d.payload?.revision === revision, 8_000);
    };
    const shown = async () =>
      (await graphql(h.app.url, admin, 'query($id: ID!) { call(id: $id) { summary city serviceCategory pipelineSteps { step outcome error } } }', { id: call.id })).data?.call;

    // Revision 1: the summary is refused for good (the transcript grew too long); the extraction still works.
    const tooLong = { status: 400, message: 'Your input exceeds the context window of this model. Please adjust your input and try again.', code: 'context_length_exceeded' };
    h.openai.failNext('responses', tooLong, 1);
    const second = await reprocess(1);
    const summaryError = expect.stringMatching(/^summary: OpenAI answered 400: Your input exceeds the context window/);
    expect(second.payload).toMatchObject({ summary: null, city: 'תל אביב-יפו', errors: { summarize: summaryError } });
    expect(await shown()).toMatchObject({ summary: null, city: 'תל אביב-יפו', pipelineSteps: expect.arrayContaining([{ step: 'SUMMARIZE', outcome: 'FAILED', error: summaryError }]) });

    // Revision 2: the summary is back, the extraction is refused for good.
    h.openai.handle({ respond: (request) => (request.format.type === 'json_schema' ? { fail: { status: 400, message: "Invalid schema for response_format 'call_fields'.", code: 'invalid_json_schema' } } : summary) });
    const third = await reprocess(2);
    expect(third.payload).toMatchObject({ summary, city: null, service_category: null, extracted: null, errors: { extract: expect.stringMatching(/^extraction: OpenAI answered 400: Invalid schema/) } });
    expect(await shown()).toMatchObject({ summary, city: null, serviceCategory: null });
    expect(await callRow(call.id)).toMatchObject({ extractedCity: null, extractedService: null, extracted: null });
  });
});
