import { beforeAll, describe, expect, it } from 'vitest';
import { Call } from '../../src/entities/call.entity.ts';
import { recordingCallbackParams } from '../../src/sandbox/twilio-webhook.ts';
import { burstLevels, conversationWavFile } from '../../src/sandbox/conversation-audio.ts';
import { endedCall, eventually, placeCall, useCallHarness } from '../support/calls.ts';
import { postTwilioWebhook, twilioAccountSid } from '../support/twilio.ts';

/**
 * With recording on, every call reaches the post-call pipeline — and the CRM — exactly
 * once, whatever Twilio's recording does: its status callback arrives, is lost (Twilio
 * does not retry), comes late, or the recording never started. End to end against the
 * Twilio stand-in, whose recordings complete when the call ends and call back after their
 * processing time.
 */
describe('the recording safety net', () => {
  const h = useCallHarness({}, { recordCalls: true, pipeline: true, env: { RECORDING_CALLBACK_GRACE_SEC: '1' } });
  const recordingTranscript = 'Agent: שלום, כאן שיפוצי הגליל\nCaller: רציתי לשאול על שיפוץ מטבח';
  // Two seconds of dual-channel audio, long enough to be kept: the agent speaks on Twilio's
  // second channel, then the caller on the first; each turn is transcribed on its own.
  const recordingAudio = () =>
    conversationWavFile(
      [
        { channel: 1, startSec: 0.1, lengthSec: 0.6, level: 3000 },
        { channel: 0, startSec: 1.0, lengthSec: 0.6, level: 9000 },
      ],
      2,
    );

  beforeAll(() => {
    h.twilioApi.processRecordingsIn(50);
    h.pipeline!.openaiApi.handle({ transcribe: (r) => ((burstLevels(r.audio)[0] ?? 0) < 6000 ? 'שלום, כאן שיפוצי הגליל' : 'רציתי לשאול על שיפוץ מטבח') });
  });

  /** A short call with recording on, up to the caller hanging up; the call row once written. */
  async function recordedCall(callSid: string, before: () => void = () => {}) {
    h.twilioApi.addCall({ sid: callSid, from: '+972501234567', to: '+97233824100' });
    h.twilioApi.recordingAudio(callSid, recordingAudio());
    const call = await placeCall(h, callSid);
    call.session.script({ replies: [{ text: 'שלום, כאן שיפוצי הגליל' }] });
    before();
    call.caller.start();
    await h.twilioApi.waitForRequest((r) => r.method === 'POST' && r.path.endsWith(`/Calls/${callSid}/Recordings.json`));
    await eventually(() => call.caller.heardMs(), (ms) => ms > 0, 'the greeting to play');
    call.caller.stop();
    await call.caller.closed;
    h.twilioApi.hangUp(callSid);
    return endedCall(h, callSid);
  }

  function deliveries(callSid: string) {
    return h.pipeline!.receiver.deliveries.filter((d) => d.payload?.call_id === callSid);
  }

  /** The pg-boss jobs of `name` for the call, with their state. */
  async function jobs(name: string, callId: string): Promise<{ state: string }[]> {
    return h.app.services.orm.em.fork().execute<{ state: string }[]>(`select state from pgboss.job where name = ? and data->>'callId' = ?`, [name, callId]);
  }

  /** The reconciliation has run for the call (and found what it found). */
  function reconciled(callId: string) {
    return eventually(() => jobs('recording.reconcile', callId), (rows) => rows.length === 1 && rows[0]!.state === 'completed', 'the reconciliation job', 15_000);
  }

  /** The call's one pipeline job has completed. */
  function processed(callId: string) {
    return eventually(() => jobs('call.process', callId), (rows) => rows.length === 1 && rows[0]!.state === 'completed', 'the pipeline job', 15_000);
  }

  function callRow(callSid: string) {
    return h.app.services.orm.em.fork().findOneOrFail(Call, { callSid });
  }

  it('normal: the recording callback starts the pipeline — one webhook, transcribed from the recording', async () => {
    const callSid = 'CA00000000000000000000000000001701';
    const row = await recordedCall(callSid);
    const callback = await h.twilioApi.waitForCallback((c) => c.callSid === callSid && c.kind === 'recording');
    expect(callback).toMatchObject({ status: 204, params: { RecordingStatus: 'completed' } });
    const delivery = await h.pipeline!.receiver.waitForDelivery((d) => d.payload?.call_id === callSid, 20_000);
    expect(delivery.payload).toMatchObject({ transcript: recordingTranscript, transcript_source: 'recording', recording_url: callback.params.RecordingUrl });
    await reconciled(row.id);
    await processed(row.id);
    expect(deliveries(callSid)).toHaveLength(1);
  });

  it('regression: a lost recording callback left the call without pipeline or webhook — after the grace the recording is listed, downloaded, one webhook', async () => {
    const callSid = 'CA00000000000000000000000000001702';
    const row = await recordedCall(callSid, () => h.twilioApi.loseNextRecordingCallback());
    const recording = await h.twilioApi.waitForRecording((r) => r.callSid === callSid && r.status === 'completed');
    expect(h.twilioApi.lostRecordingCallbacks).toContain(recording.sid);
    const delivery = await h.pipeline!.receiver.waitForDelivery((d) => d.payload?.call_id === callSid, 20_000);
    expect(delivery.payload).toMatchObject({ transcript: recordingTranscript, transcript_source: 'recording' });
    expect(h.twilioApi.requests.some((r) => r.method === 'GET' && r.path.endsWith(`/Calls/${callSid}/Recordings.json`))).toBe(true);
    expect(h.twilioApi.downloads(recording.sid)).toBe(1);
    expect(await callRow(callSid)).toMatchObject({ recordingSid: recording.sid });
    await reconciled(row.id);
    expect(deliveries(callSid)).toHaveLength(1);
  });

  it('regression: a recording Twilio refused to start (21220) left the call without pipeline or webhook — the pipeline runs at call end on the realtime transcript', async () => {
    const callSid = 'CA00000000000000000000000000001703';
    const row = await recordedCall(callSid, () => h.twilioApi.failNext(400, { code: 21220, message: 'Requested resource is not eligible for recording' }));
    const delivery = await h.pipeline!.receiver.waitForDelivery((d) => d.payload?.call_id === callSid, 20_000);
    expect(delivery.payload).toMatchObject({ transcript_source: 'realtime', transcript: expect.stringContaining('Agent: שלום, כאן שיפוצי הגליל'), recording_url: null });
    expect(await jobs('recording.reconcile', row.id)).toEqual([]);
    // The pipeline job enqueues the webhook before it completes itself: the webhook can land first.
    await processed(row.id);
    expect(deliveries(callSid)).toHaveLength(1);
  });

  it('regression: a recording callback that comes after the reconciliation changes nothing: no second run, no second webhook, the recording kept', async () => {
    const callSid = 'CA00000000000000000000000000001704';
    const row = await recordedCall(callSid, () => h.twilioApi.loseNextRecordingCallback());
    const recording = await h.twilioApi.waitForRecording((r) => r.callSid === callSid && r.status === 'completed');
    await h.pipeline!.receiver.waitForDelivery((d) => d.payload?.call_id === callSid, 20_000);
    await eventually(() => jobs('call.process', row.id), (rows) => rows[0]?.state === 'completed', 'the pipeline to finish');
    const before = await callRow(callSid);

    // Twilio's callback after all, and one naming another recording of the call.
    const other = h.twilioApi.addRecording({ callSid, channels: 2, durationSec: 2 });
    for (const recordingSid of [recording.sid, other.sid]) {
      const params = recordingCallbackParams({ accountSid: twilioAccountSid, callSid, recordingSid, status: 'completed', durationSec: 2, channels: 2, apiUrl: h.twilioApi.url });
      expect((await postTwilioWebhook(h.app.url, '/twilio/recording', params)).status).toBe(204);
    }
    await reconciled(row.id);
    const after = await callRow(callSid);
    expect({ recordingSid: after.recordingSid, recordingUrl: after.recordingUrl, pipelineSteps: after.pipelineSteps }).toEqual({
      recordingSid: before.recordingSid,
      recordingUrl: before.recordingUrl,
      pipelineSteps: before.pipelineSteps,
    });
    expect(after.recordingSid).toBe(recording.sid);
    expect(await jobs('call.process', row.id)).toEqual([{ state: 'completed' }]);
    expect(deliveries(callSid)).toHaveLength(1);
    expect(h.twilioApi.downloads(other.sid)).toBe(0);
  });
});
