import OpenAI, { APIConnectionError, AuthenticationError, BadRequestError, InternalServerError, NotFoundError, RateLimitError, toFile } from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_MODELS, DEFAULT_TRANSCRIPT, startOpenAIApiStandIn, type OpenAIApiStandIn, type TranscriptionRequest } from '../../src/sandbox/openai-api.server.ts';
import { silentWavFile } from '../../src/sandbox/wav.ts';
import { jsonSchema } from '../../src/workers/pipeline/extract.ts';

const LEAD_SCHEMA = {
  type: 'object',
  properties: { name: { type: ['string', 'null'] }, city: { type: ['string', 'null'] }, urgent: { type: ['boolean', 'null'] } },
  required: ['name', 'city', 'urgent'],
  additionalProperties: false,
};

/** A handler that holds its request open until released; `arrived` settles once it is called. */
function heldHandler() {
  let arrive = () => {};
  let release: (text: string) => void = () => {};
  const arrived = new Promise<void>((resolve) => (arrive = resolve));
  const respond = () => {
    arrive();
    return new Promise<string>((resolve) => (release = resolve));
  };
  return { respond, arrived, release: (text: string) => release(text) };
}

describe('OpenAI REST stand-in with the official SDK', () => {
  let standIn: OpenAIApiStandIn;
  let openai: OpenAI;
  const recording = silentWavFile(2.5, { sampleRate: 8000, channels: 1 });

  beforeAll(async () => {
    standIn = await startOpenAIApiStandIn({ apiKey: 'sk-test-rest' });
    openai = new OpenAI({ apiKey: standIn.apiKey, baseURL: standIn.url });
  });
  afterAll(() => standIn.close());
  beforeEach(() => {
    standIn.handle({ transcribe: () => DEFAULT_TRANSCRIPT, respond: (request) => `סיכום: ${request.inputText.slice(0, 80)}` });
    standIn.failNext('transcriptions', { status: 500 }, 0);
    standIn.failNext('responses', { status: 500 }, 0);
  });

  it('transcribes a multipart upload and hands the handler the audio and the fields', async () => {
    let received: TranscriptionRequest | undefined;
    standIn.handle({ transcribe: (request) => ((received = request), 'אני צריך חשמלאי בתל אביב') });
    const transcription = await openai.audio.transcriptions.create({
      file: await toFile(recording, 'recording.wav', { type: 'audio/wav' }),
      model: 'gpt-4o-transcribe',
      language: 'he',
      prompt: 'שיחה עם עסק קטן',
    });
    // gpt-4o-transcribe bills by tokens: 2.5 s of audio at ten a second, the prompt as text.
    expect(transcription).toMatchObject({
      text: 'אני צריך חשמלאי בתל אביב',
      usage: { type: 'tokens', input_token_details: { audio_tokens: 25, text_tokens: 4 }, input_tokens: 29, output_tokens: 6, total_tokens: 35 },
    });
    expect(received).toMatchObject({ filename: 'recording.wav', contentType: 'audio/wav', model: 'gpt-4o-transcribe', language: 'he', prompt: 'שיחה עם עסק קטן', responseFormat: null, durationSec: 2.5, channels: 1, keywords: [] });
    expect(received?.audio.equals(recording)).toBe(true);
    expect(standIn.calls.at(-1)).toMatchObject({ endpoint: 'transcriptions', status: 200, transcription: { language: 'he' } });

    const text = await openai.audio.transcriptions.create({ file: await toFile(recording, 'recording.wav'), model: 'gpt-4o-transcribe', response_format: 'text' });
    expect(text).toBe('אני צריך חשמלאי בתל אביב');
  });

  it('bills gpt-transcribe and whisper-1 by the second, and hands the handler gpt-transcribe\'s keywords', async () => {
    let received: TranscriptionRequest | undefined;
    standIn.handle({ transcribe: (request) => ((received = request), 'שלום') });
    const file = await toFile(recording, 'recording.wav', { type: 'audio/wav' });
    const transcription = await openai.audio.transcriptions.create({ file, model: 'gpt-transcribe', keywords: ['אינסטלציה גולן', 'נתניה'] });
    expect(transcription.usage).toEqual({ type: 'duration', seconds: 3 });
    expect(received?.keywords).toEqual(['אינסטלציה גולן', 'נתניה']);
    expect((await openai.audio.transcriptions.create({ file: await toFile(recording, 'recording.wav'), model: 'whisper-1' })).usage).toEqual({ type: 'duration', seconds: 3 });
  });

  it('refuses an upload over 25 MiB with 413 and audio longer than the model takes with 400, as OpenAI words them', async () => {
    const long = silentWavFile(1500.5, { sampleRate: 8000, channels: 1 }); // 24 MB: under the upload cap
    const tooLong = await openai.audio.transcriptions.create({ file: await toFile(long, 'long.wav'), model: 'gpt-transcribe' }).catch((error: unknown) => error);
    expect(tooLong).toBeInstanceOf(BadRequestError);
    expect((tooLong as BadRequestError).error).toEqual({ message: 'audio duration 1500.5 seconds is longer than 1500 seconds which is the maximum for this model', type: 'invalid_request_error', param: null, code: null });
    const diarized = await openai.audio.transcriptions.create({ file: await toFile(silentWavFile(1401, { sampleRate: 8000, channels: 1 }), 'a.wav'), model: 'gpt-4o-transcribe-diarize' }).catch((error: unknown) => error);
    expect((diarized as BadRequestError).message).toMatch(/1401 seconds is longer than 1400 seconds/);
    // whisper-1 has no duration cap.
    expect((await openai.audio.transcriptions.create({ file: await toFile(long, 'long.wav'), model: 'whisper-1' })).text).toBe(DEFAULT_TRANSCRIPT);

    const stereo = silentWavFile(820, { sampleRate: 8000, channels: 2 }); // 26,240,044 bytes
    const tooLarge = await openai.audio.transcriptions.create({ file: await toFile(stereo, 'call.wav'), model: 'gpt-transcribe' }).catch((error: unknown) => error);
    expect(tooLarge).toMatchObject({ status: 413, error: { type: 'server_error', code: null, message: expect.stringMatching(/^Maximum content size limit \(26214400\) exceeded \(\d+ bytes read\)$/) } });
    expect(standIn.calls.at(-1)).toMatchObject({ endpoint: 'transcriptions', status: 413 });
  });

  it('answers a json_schema request with a Response whose output_text the SDK builds', async () => {
    standIn.handle({ respond: (request) => (request.format.type === 'json_schema' ? { name: 'דנה', city: 'חיפה', urgent: true } : 'unexpected') });
    const response = await openai.responses.create({
      model: 'gpt-5-mini',
      instructions: 'חלץ פרטי ליד',
      input: [
        { role: 'user', content: 'שלום, אני דנה' },
        { role: 'user', content: [{ type: 'input_text', text: 'אני בחיפה' }] },
      ],
      text: { format: { type: 'json_schema', name: 'lead', schema: LEAD_SCHEMA, strict: true } },
      store: false,
    });
    expect(JSON.parse(response.output_text)).toEqual({ name: 'דנה', city: 'חיפה', urgent: true });
    expect(response).toMatchObject({ object: 'response', status: 'completed', model: 'gpt-5-mini', instructions: 'חלץ פרטי ליד', error: null, store: false });
    expect(response.id).toMatch(/^resp_[0-9a-f]{48}$/);
    expect(response.output[0]).toMatchObject({ type: 'message', role: 'assistant', status: 'completed', id: expect.stringMatching(/^msg_/) });
    expect(response.usage?.total_tokens).toBeGreaterThan(0);
    expect(standIn.calls.at(-1)?.response).toMatchObject({
      inputText: 'שלום, אני דנה\nאני בחיפה',
      instructions: 'חלץ פרטי ליד',
      format: { type: 'json_schema', name: 'lead', schema: LEAD_SCHEMA, strict: true },
      body: { store: false },
    });
  });

  it('answers deterministically without handlers', async () => {
    const defaults = await startOpenAIApiStandIn();
    const client = new OpenAI({ apiKey: defaults.apiKey, baseURL: defaults.url });
    try {
      expect(defaults.apiKey).toBe('sk-test-key');
      const transcription = await client.audio.transcriptions.create({ file: await toFile(recording, 'call.wav', { type: 'audio/wav' }), model: 'gpt-4o-transcribe' });
      expect(transcription.text).toBe('שלום, אני צריכה שרברב בחיפה מחר בבוקר.');
      const summary = await client.responses.create({ model: 'gpt-5-mini', input: transcription.text });
      expect(summary.output_text).toBe(`סיכום: ${transcription.text}`);
      const lead = await client.responses.create({ model: 'gpt-5-mini', input: transcription.text, text: { format: { type: 'json_schema', name: 'lead', schema: LEAD_SCHEMA, strict: true } } });
      expect(JSON.parse(lead.output_text)).toEqual({ name: null, city: null, urgent: null });
      expect([defaults.count('transcriptions'), defaults.count('responses')]).toEqual([1, 2]);
    } finally {
      await defaults.close();
    }
  });

  it('fails the next requests as scripted, with OpenAI\'s error body, then recovers', async () => {
    standIn.failNext('transcriptions', { status: 400, message: 'Invalid file format.', code: 'invalid_value' });
    const upload = async () => openai.audio.transcriptions.create({ file: await toFile(recording, 'recording.wav'), model: 'gpt-4o-transcribe' });
    const rejected = await upload().catch((error: unknown) => error);
    expect(rejected).toBeInstanceOf(BadRequestError);
    expect(rejected).toMatchObject({ status: 400, code: 'invalid_value', type: 'invalid_request_error', message: '400 Invalid file format.' });
    expect((await upload()).text).toBe(DEFAULT_TRANSCRIPT);

    const noRetries = new OpenAI({ apiKey: standIn.apiKey, baseURL: standIn.url, maxRetries: 0 });
    standIn.failNext('responses', { status: 500 }, 2);
    const before = standIn.count('responses');
    await expect(noRetries.responses.create({ model: 'gpt-5-mini', input: 'x' })).rejects.toBeInstanceOf(InternalServerError);
    expect(standIn.count('responses')).toBe(before + 1);
    // The SDK retries a 5xx by itself (twice by default), after a short back-off.
    const retried = await openai.responses.create({ model: 'gpt-5-mini', input: 'שלום' });
    expect(retried.output_text).toBe('סיכום: שלום');
    expect(standIn.calls.slice(-2).map((call) => call.status)).toEqual([500, 200]);
  });

  it('turns a handler\'s failure or exception into an OpenAI error', async () => {
    const noRetries = new OpenAI({ apiKey: standIn.apiKey, baseURL: standIn.url, maxRetries: 0 });
    standIn.handle({ respond: () => ({ fail: { status: 400, message: 'Invalid schema for response_format', code: 'invalid_json_schema' } }) });
    await expect(noRetries.responses.create({ model: 'gpt-5-mini', input: 'x' })).rejects.toMatchObject({ status: 400, code: 'invalid_json_schema' });
    standIn.handle({ respond: () => Promise.reject(new Error('boom')) });
    await expect(noRetries.responses.create({ model: 'gpt-5-mini', input: 'x' })).rejects.toMatchObject({ status: 500, type: 'server_error' });
  });

  it('tells an account out of quota (insufficient_quota, no retry headers) from a rate limit (rate_limit_exceeded, x-ratelimit headers)', async () => {
    const noRetries = new OpenAI({ apiKey: standIn.apiKey, baseURL: standIn.url, maxRetries: 0 });
    standIn.failNext('responses', { status: 429, code: 'insufficient_quota' });
    const quota = await noRetries.responses.create({ model: 'gpt-5-mini', input: 'x' }).catch((error: unknown) => error);
    expect(quota).toBeInstanceOf(RateLimitError);
    expect(quota).toMatchObject({
      status: 429,
      type: 'insufficient_quota',
      code: 'insufficient_quota',
      param: null,
      message: expect.stringMatching(/^429 You exceeded your current quota, please check your plan and billing details\./),
    });
    expect((quota as RateLimitError).headers.get('x-ratelimit-remaining-requests')).toBeNull();

    standIn.failNext('responses', { status: 429 });
    const limited = await noRetries.responses.create({ model: 'gpt-5-mini', input: 'x' }).catch((error: unknown) => error);
    expect(limited).toMatchObject({ status: 429, type: 'requests', code: 'rate_limit_exceeded', message: expect.stringMatching(/^429 Rate limit reached/) });
    expect((limited as RateLimitError).headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect((limited as RateLimitError).headers.get('x-ratelimit-reset-requests')).toMatch(/^\d+m?s$/);
  });

  it('answers a strict json_schema by default with what the schema allows: nullable → null, objects → objects, enums → their first value', async () => {
    const defaults = await startOpenAIApiStandIn();
    const client = new OpenAI({ apiKey: defaults.apiKey, baseURL: defaults.url });
    try {
      const schema = jsonSchema([
        { name: 'budget_nis', description: 'budget', type: 'number' },
        { name: 'urgency', description: 'urgency', type: 'string', enum: ['low', 'high'] },
      ]);
      const answer = await client.responses.create({ model: 'gpt-5-mini', input: 'x', text: { format: { type: 'json_schema', name: 'call_fields', schema, strict: true } } });
      expect(JSON.parse(answer.output_text)).toEqual({ city: null, service_category: null, fields: { budget_nis: null, urgency: null } });
      const strictEnum = { type: 'object', additionalProperties: false, required: ['tone', 'tags', 'count'], properties: { tone: { type: 'string', enum: ['warm', 'cold'] }, tags: { type: 'array', items: { type: 'string' } }, count: { type: 'integer' } } };
      const enums = await client.responses.create({ model: 'gpt-5-mini', input: 'x', text: { format: { type: 'json_schema', name: 'tone', schema: strictEnum, strict: true } } });
      expect(JSON.parse(enums.output_text)).toEqual({ tone: 'warm', tags: [], count: 0 });
    } finally {
      await defaults.close();
    }
  });

  it('refuses a test\'s strict json_schema answer the real API could never send, saying why', async () => {
    const noRetries = new OpenAI({ apiKey: standIn.apiKey, baseURL: standIn.url, maxRetries: 0 });
    const format = { type: 'json_schema' as const, name: 'lead', schema: LEAD_SCHEMA, strict: true };
    standIn.handle({ respond: () => ({ name: 'דנה', city: null }) });
    await expect(noRetries.responses.create({ model: 'gpt-5-mini', input: 'x', text: { format } })).rejects.toMatchObject({
      status: 500,
      message: "500 The stand-in's handler failed: the answer does not match the strict json_schema 'lead' ((root): missing required property 'urgent')",
    });
    expect(standIn.calls.at(-1)?.standInError).toMatch(/missing required property 'urgent'/);
    standIn.handle({ respond: () => ({ name: 'דנה', city: null, urgent: 'yes' }) });
    await expect(noRetries.responses.create({ model: 'gpt-5-mini', input: 'x', text: { format } })).rejects.toMatchObject({ message: expect.stringContaining('urgent: expected boolean or null, got string') });
    standIn.handle({ respond: () => 'not json' });
    await expect(noRetries.responses.create({ model: 'gpt-5-mini', input: 'x', text: { format } })).rejects.toMatchObject({ message: expect.stringContaining("the answer to the strict json_schema 'lead' is not JSON") });
    // Without strict, OpenAI does not promise the schema: the answer goes through as it is.
    expect((await noRetries.responses.create({ model: 'gpt-5-mini', input: 'x', text: { format: { ...format, strict: false } } })).output_text).toBe('not json');
  });

  it('refuses a wrong key, a malformed request and an unknown path as OpenAI does', async () => {
    const wrongKey = new OpenAI({ apiKey: 'sk-wrong-key-123', baseURL: standIn.url });
    const refused = await wrongKey.responses.create({ model: 'gpt-5-mini', input: 'x' }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(AuthenticationError);
    expect(refused).toMatchObject({ status: 401, code: 'invalid_api_key', type: 'invalid_request_error', param: null });
    expect(standIn.calls.at(-1)).toMatchObject({ endpoint: 'responses', status: 401 });

    const badFile = await openai.audio.transcriptions.create({ file: await toFile(recording, 'recording.txt'), model: 'gpt-4o-transcribe' }).catch((error: unknown) => error);
    expect(badFile).toMatchObject({ status: 400, code: 'invalid_value', param: 'file' });

    const headers = { Authorization: `Bearer ${standIn.apiKey}` };
    const noFile = new FormData();
    noFile.set('model', 'gpt-4o-transcribe');
    const missing = await fetch(`${standIn.url}/audio/transcriptions`, { method: 'POST', headers, body: noFile });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toEqual({
      error: { message: '1 validation error for Request\nbody -> file\n  field required (type=value_error.missing)', type: 'invalid_request_error', param: null, code: null },
    });
    const noModel = await fetch(`${standIn.url}/responses`, { method: 'POST', headers: { ...headers, 'Content-Type': 'application/json' }, body: '{"input":"x"}' });
    expect(await noModel.json()).toMatchObject({ error: { param: 'model', code: 'missing_required_parameter' } });

    await expect(openai.files.list()).rejects.toBeInstanceOf(NotFoundError);
    await expect(openai.files.list()).rejects.toMatchObject({ message: '404 Invalid URL (GET /v1/files)' });
  });

  it('describes a model as GET /v1/models/{model} does; a retired one is gone from every endpoint', async () => {
    const models = await startOpenAIApiStandIn();
    const client = new OpenAI({ apiKey: models.apiKey, baseURL: models.url, maxRetries: 0 });
    try {
      const model = await client.models.retrieve('gpt-realtime-1.5');
      expect(model).toEqual({ id: 'gpt-realtime-1.5', object: 'model', created: expect.any(Number), owned_by: 'system', shutdown_date: null });
      expect(await client.models.retrieve('gpt-realtime')).toMatchObject({ id: 'gpt-realtime', shutdown_date: '2027-01-20' });
      const listed = [];
      for await (const each of client.models.list()) listed.push(each.id);
      expect(listed).toEqual(DEFAULT_MODELS.map((each) => each.id));

      const unknown = await client.models.retrieve('gpt-foo').catch((error: unknown) => error);
      expect(unknown).toBeInstanceOf(NotFoundError);
      expect(unknown).toMatchObject({ status: 404, type: 'invalid_request_error', param: 'model', code: 'model_not_found', message: "404 The model 'gpt-foo' does not exist" });

      models.retireModel('gpt-5.4-mini');
      await expect(client.models.retrieve('gpt-5.4-mini')).rejects.toMatchObject({ status: 404, code: 'model_not_found' });
      const refused = await client.responses.create({ model: 'gpt-5.4-mini', input: 'x' }).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(BadRequestError);
      expect(refused).toMatchObject({ param: 'model', code: 'model_not_found', message: "400 The requested model 'gpt-5.4-mini' does not exist." });
      // Other models still answer, and models never named in the list are not refused.
      expect((await client.responses.create({ model: 'gpt-5.5', input: 'שלום' })).output_text).toBe('סיכום: שלום');

      // A fine-tuned model's id travels percent-encoded in the path.
      const tuned = await startOpenAIApiStandIn({ models: [{ id: 'ft:gpt-5.4-mini:acme::abc123', shutdownDate: '2027-06-01' }] });
      try {
        const tunedClient = new OpenAI({ apiKey: tuned.apiKey, baseURL: tuned.url, maxRetries: 0 });
        expect(await tunedClient.models.retrieve('ft:gpt-5.4-mini:acme::abc123')).toMatchObject({ id: 'ft:gpt-5.4-mini:acme::abc123', shutdown_date: '2027-06-01' });
        await expect(tunedClient.models.retrieve('gpt-realtime-1.5')).rejects.toBeInstanceOf(NotFoundError);
      } finally {
        await tuned.close();
      }

      models.failNext('models', { status: 503 });
      await expect(client.models.retrieve('gpt-realtime-1.5')).rejects.toMatchObject({ status: 503 });
      expect(models.calls.filter((call) => call.endpoint === 'models').map((call) => [call.model ?? '(list)', call.status])).toEqual([
        ['gpt-realtime-1.5', 200],
        ['gpt-realtime', 200],
        ['(list)', 200],
        ['gpt-foo', 404],
        ['gpt-5.4-mini', 404],
        ['gpt-realtime-1.5', 503],
      ]);
    } finally {
      await models.close();
    }
  });

  it('records a held request only once it is answered', async () => {
    const held = heldHandler();
    standIn.handle({ respond: held.respond });
    const before = standIn.calls.length;
    const pending = openai.responses.create({ model: 'gpt-5-mini', input: 'המתנה' });
    await held.arrived;
    expect(standIn.calls.length).toBe(before);
    const answered = standIn.waitForCall((call) => call.response?.inputText === 'המתנה');
    held.release('סוף');
    expect((await pending).output_text).toBe('סוף');
    expect(await answered).toMatchObject({ endpoint: 'responses', status: 200 });
  });

  it('closes every connection, even one held open by a handler', async () => {
    const handler = heldHandler();
    const held = await startOpenAIApiStandIn({ respond: handler.respond });
    const client = new OpenAI({ apiKey: held.apiKey, baseURL: held.url, maxRetries: 0 });
    const pending = client.responses.create({ model: 'gpt-5-mini', input: 'x' }).catch((error: unknown) => error);
    await handler.arrived;
    await held.close();
    expect(await pending).toBeInstanceOf(APIConnectionError);
    await expect(fetch(`${held.url}/responses`, { method: 'POST' })).rejects.toThrow();
    expect(held.calls).toEqual([]);
  });
});
