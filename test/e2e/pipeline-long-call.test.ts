import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Call } from '../../src/entities/call.entity.ts';
import { burstLevels, conversationWavFile } from '../../src/sandbox/conversation-audio.ts';
import { MAX_TRANSCRIPTION_UPLOAD_BYTES } from '../../src/sandbox/openai-api.resources.ts';
import { silentWavFile } from '../../src/sandbox/wav.ts';
import { cityFromCallerLines, longCall, type LongCall } from '../support/long-call.ts';
import { startPipelineHarness, type PipelineHarness } from '../support/pipeline.ts';

/**
 * Issue 17 (review D8): a long call's dual-channel recording is transcribed within
 * OpenAI's limits (25 MiB, 1500 s a request) into one speaker-labelled transcript, so
 * extraction takes the caller's city from the caller's words. Before, the whole 40-minute
 * WAV (77 MB) went up in one request: OpenAI answered 413, the step failed, and a shorter
 * stereo call came back as one unlabelled text in which the agent's city could pass for
 * the caller's.
 */
describe('a 40-minute two-channel call', () => {
  let h: PipelineHarness;
  let call: LongCall;

  beforeAll(async () => {
    h = await startPipelineHarness();
    call = longCall(2400);
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('is transcribed in pieces within the limits into one ordered Caller/Agent transcript, and the city is the caller’s', { timeout: 120_000 }, async () => {
    h.openai.handle({
      transcribe: (request) => call.transcribe(request),
      respond: (request) =>
        request.format.type === 'json_schema'
          ? { city: cityFromCallerLines(request.inputText), service_category: 'תיקון נזילה', fields: { budget_nis: null, urgent: null } }
          : 'שיחה ארוכה על נזילה בנתניה.',
    });
    const { call: row, recordingSid } = await h.recordedCall({ durationSec: call.durationSec, endedAt: new Date(Date.parse('2026-11-22T08:00:00Z') + call.durationSec * 1000) }, { audio: call.audio });
    expect(await h.recordingCallback(row, recordingSid)).toBe(204);
    const delivery = await h.receiver.waitForDelivery((d) => d.payload?.call_id === row.callSid, 100_000);

    expect(delivery.payload?.errors).toEqual({});
    expect(delivery.payload).toMatchObject({ transcript: call.transcript, transcript_source: 'recording', city: call.callerCity, errors: {} });
    const stored = await h.app.services.orm.em.fork().findOneOrFail(Call, { id: row.id });
    expect(stored.finalTranscript).toBe(call.transcript);
    expect(stored.finalTranscript).toMatch(/^Agent: .*בחיפה.*\nCaller: .*בנתניה/);

    const requests = h.openai.calls.filter((c) => c.endpoint === 'transcriptions');
    expect(requests.length).toBeGreaterThan(100);
    for (const request of requests) {
      expect(request.status).toBe(200);
      expect(request.transcription!.audio.length).toBeLessThan(MAX_TRANSCRIPTION_UPLOAD_BYTES);
      expect(request.transcription!.durationSec).toBeLessThanOrEqual(1500);
      expect(request.transcription).toMatchObject({ channels: 1, language: 'he', prompt: expect.stringMatching(/^אינסטלציה גולן, /) });
    }
    // The 12-minute explanation is longer than one request takes: it went in more than one.
    expect(Math.max(...requests.map((r) => r.transcription!.durationSec))).toBeLessThanOrEqual(600);
    expect(requests.filter((r) => r.transcription!.durationSec > 500)).toHaveLength(1);
  });

  it('transcribes a mono recording in pieces too, unlabelled, leaving long silences out', { timeout: 60_000 }, async () => {
    const turns = [0, 1, 2].map((i) => ({ channel: 0 as const, startSec: 5 + i * 100, lengthSec: 4, level: 2000 + 1000 * i }));
    h.openai.handle({ transcribe: (request) => burstLevels(request.audio).map((level) => `קטע ${level / 1000 - 1}.`).join(' ') });
    const before = h.openai.count('transcriptions');
    const { call: row, recordingSid } = await h.recordedCall({}, { audio: conversationWavFile(turns, 300, { channels: 1 }) });
    await h.recordingCallback(row, recordingSid);
    const delivery = await h.receiver.waitForDelivery((d) => d.payload?.call_id === row.callSid);
    expect(delivery.payload).toMatchObject({ transcript: 'קטע 1. קטע 2. קטע 3.', transcript_source: 'recording', errors: {} });
    expect(h.openai.count('transcriptions') - before).toBe(3);
  });

  it('sends nothing for a recording in which nobody is heard: the realtime transcript stands in', { timeout: 60_000 }, async () => {
    const before = h.openai.count('transcriptions');
    const { call: row, recordingSid } = await h.recordedCall({}, { audio: silentWavFile(30, { sampleRate: 8000, channels: 2 }) });
    await h.recordingCallback(row, recordingSid);
    const delivery = await h.receiver.waitForDelivery((d) => d.payload?.call_id === row.callSid);
    expect(delivery.payload).toMatchObject({ transcript: expect.stringMatching(/^Agent: שלום מיכל/), transcript_source: 'realtime', errors: {} });
    expect(h.openai.count('transcriptions')).toBe(before);
  });

  it('retries a piece OpenAI rate-limits, and fails the step when OpenAI refuses a piece for good', { timeout: 60_000 }, async () => {
    const audio = conversationWavFile([0, 1, 2, 3].map((i) => ({ channel: (i % 2) as 0 | 1, startSec: 1 + i * 4, lengthSec: 2, level: 3000 })), 20);
    h.openai.handle({ transcribe: () => 'טקסט' });
    h.openai.failNext('transcriptions', { status: 429 });
    const limited = await h.recordedCall({}, { audio });
    await h.recordingCallback(limited.call, limited.recordingSid);
    expect((await h.receiver.waitForDelivery((d) => d.payload?.call_id === limited.call.callSid)).payload).toMatchObject({
      transcript: 'Caller: טקסט\nAgent: טקסט\nCaller: טקסט\nAgent: טקסט',
      errors: {},
    });

    let pieces = 0;
    h.openai.handle({ transcribe: () => (++pieces === 3 ? { fail: { status: 400, message: 'Audio file might be corrupted or unsupported', code: 'invalid_value' } } : 'טקסט') });
    const refused = await h.recordedCall({}, { audio });
    await h.recordingCallback(refused.call, refused.recordingSid);
    const delivery = await h.receiver.waitForDelivery((d) => d.payload?.call_id === refused.call.callSid);
    expect(delivery.payload).toMatchObject({ transcript: null, transcript_source: null, errors: { transcribe: 'transcription: OpenAI answered 400: Audio file might be corrupted or unsupported' } });
    const stored = await h.app.services.orm.em.fork().findOneOrFail(Call, { id: refused.call.id });
    expect(stored.finalTranscript).toBeNull();
  });
});
