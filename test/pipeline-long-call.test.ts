import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Call } from '../src/entities/call.entity.ts';
import { MAX_TRANSCRIPTION_UPLOAD_BYTES } from '../src/sandbox/openai-api.resources.ts';
import { cityFromCallerLines, longCall, type LongCall } from './support/long-call.ts';
import { startPipelineHarness, type PipelineHarness } from './support/pipeline.ts';

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
    h.openai.handle({
      transcribe: (request) => call.transcribe(request),
      respond: (request) =>
        request.format.type === 'json_schema'
          ? { city: cityFromCallerLines(request.inputText), service_category: 'תיקון נזילה', fields: { budget_nis: null, urgent: null } }
          : 'שיחה ארוכה על נזילה בנתניה.',
    });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('is transcribed in pieces within the limits into one ordered Caller/Agent transcript, and the city is the caller’s', { timeout: 120_000 }, async () => {
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
});
