import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobContext } from '../../src/core/queue.ts';
import { Call } from '../../src/entities/call.entity.ts';
import { reconcileRecording } from '../../src/workers/pipeline/reconcile-recording.ts';
import { startPipelineHarness, type PipelineHarness } from '../support/pipeline.ts';

/**
 * The recording safety net's job on its own, against real Postgres and the Twilio stand-in:
 * what it does when Twilio cannot answer or the recording is not finished, on a retry and
 * on its last attempt. (No workers run: the job is called directly, and the pipeline job it
 * enqueues stays queued where the test can see it.)
 */
describe('recording.reconcile', () => {
  let h: PipelineHarness;
  let reconcile: ReturnType<typeof reconcileRecording>;

  beforeAll(async () => {
    h = await startPipelineHarness({ workers: false });
    reconcile = reconcileRecording(h.app.services);
  });
  afterAll(() => h?.stop());

  function attempt(lastAttempt: boolean): JobContext {
    return { jobId: 'test', retryCount: lastAttempt ? 8 : 0, lastAttempt, signal: new AbortController().signal, logger: h.app.services.logger };
  }

  function pipelineJob(callId: string) {
    return h.app.services.queue.getJob('call.process', callId);
  }

  function row(callId: string) {
    return h.app.services.orm.em.fork().findOneOrFail(Call, { id: callId });
  }

  it('retries while Twilio cannot list the recordings, and on the last attempt starts the pipeline without one', async () => {
    const { call } = await h.recordedCall();
    h.twilioApi.failNext(503);
    await expect(reconcile({ callId: call.id }, attempt(false))).rejects.toMatchObject({ code: 'UPSTREAM_FAILED', retryable: true });
    expect(await pipelineJob(call.id)).toBeNull();

    h.twilioApi.failNext(503);
    await reconcile({ callId: call.id }, attempt(true));
    expect(await pipelineJob(call.id)).toMatchObject({ id: call.id, state: 'created' });
    expect(await row(call.id)).toMatchObject({ recordingSid: null, recordingUrl: null });
  });

  it('stores a completed recording it lists, with the pipeline job', async () => {
    const { call, recordingSid } = await h.recordedCall();
    await reconcile({ callId: call.id }, attempt(false));
    expect(await pipelineJob(call.id)).toMatchObject({ state: 'created' });
    expect(await row(call.id)).toMatchObject({ recordingSid, recordingUrl: `${h.twilioApi.url}/2010-04-01/Accounts/${h.twilioApi.accountSid}/Recordings/${recordingSid}` });
  });

  it('waits for a recording still being made (a transferred call goes on), and gives up on it at the last attempt', async () => {
    const { call } = await h.recordedCall();
    for (const recording of h.twilioApi.recordings.filter((r) => r.callSid === call.callSid)) recording.status = 'in-progress';
    await expect(reconcile({ callId: call.id }, attempt(false))).rejects.toMatchObject({ message: 'the call is still being recorded', retryable: true });
    await reconcile({ callId: call.id }, attempt(true));
    expect(await pipelineJob(call.id)).toMatchObject({ state: 'created' });
    expect(await row(call.id)).toMatchObject({ recordingSid: null });
  });

  it('does nothing, and asks Twilio nothing, when the recording callback started the pipeline', async () => {
    const { call, recordingSid } = await h.recordedCall();
    expect(await h.recordingCallback(call, recordingSid, 'absent')).toBe(204);
    const requests = h.twilioApi.requests.length;
    await reconcile({ callId: call.id }, attempt(false));
    expect(h.twilioApi.requests.length).toBe(requests);
    expect(await row(call.id)).toMatchObject({ recordingSid: null });
  });
});
