import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Call } from '../../../src/entities/call.entity.ts';
import { killProcess, WorkerProcesses } from '../../support/callwatch-process.ts';
import { startPipelineHarness, type PipelineHarness } from '../../support/pipeline.ts';

/**
 * A worker process killed with SIGKILL in the middle of a step: pg-boss stops seeing the
 * job's heartbeats and hands it to the next worker, which resumes at that step. The
 * stand-ins count what they were asked, so a finished step that ran again would show.
 * Slow by nature (≈ 20 s): a dead worker is noticed by its missing heartbeat (10 s), found
 * by the next supervision pass (every 5 s), then retried after the queue's delay.
 */

const summary = 'מיכל דיווחה על נזילה דחופה בתל אביב.';

describe('post-call pipeline after a worker crash', () => {
  let h: PipelineHarness;
  const workers = new WorkerProcesses();

  beforeAll(async () => {
    // The app here only answers Twilio; the pipeline runs in worker processes of its own.
    h = await startPipelineHarness({ workers: false });
  });
  afterAll(async () => {
    await workers.stopAll();
    await h?.stop();
  });

  it('resumes from the interrupted step; finished steps are not redone; every delivery has one webhook-id', { timeout: 90_000 }, async () => {
    let summaryRequests = 0;
    let reachedSummary!: () => void;
    const summaryStarted = new Promise<void>((resolve) => (reachedSummary = resolve));
    h.openai.handle({
      transcribe: () => 'יש לי נזילה בתל אביב',
      respond: async (request) => {
        if (request.format.type === 'json_schema') return { city: 'תל אביב', service_category: 'אינסטלציה', fields: { budget_nis: null, urgent: true } };
        summaryRequests += 1;
        if (summaryRequests === 1) {
          reachedSummary();
          // The first worker dies while this request is open; it is never answered.
          await new Promise(() => {});
        }
        return summary;
      },
    });
    // The receiver is down for the first attempt: the retry must carry the same id.
    h.receiver.respondWith(503);

    const { call, recordingSid } = await h.recordedCall();
    const first = workers.start(h.env);
    expect(await h.recordingCallback(call, recordingSid)).toBe(204);
    await summaryStarted;

    const em = h.app.services.orm.em.fork();
    const midway = await em.findOneOrFail(Call, { id: call.id });
    expect(Object.keys(midway.pipelineSteps).sort()).toEqual(['download', 'transcribe']);
    await killProcess(first);

    workers.start(h.env);
    await h.receiver.waitForDelivery((d) => d.payload?.call_id === call.callSid && d.status === 200, 80_000);

    expect(h.twilioApi.downloads(recordingSid)).toBe(1);
    expect(h.openai.count('transcriptions')).toBe(1);
    expect(summaryRequests).toBe(2);
    expect(h.openai.calls.filter((c) => c.response?.format.type === 'json_schema')).toHaveLength(1);
    const seen = h.deliveriesFor(call);
    expect(seen.map((d) => d.status)).toEqual([503, 200]);
    expect(new Set(seen.map((d) => d.webhookId)).size).toBe(1);
    expect(seen.every((d) => d.verified)).toBe(true);
    expect(seen[1]?.payload).toMatchObject({ summary, transcript: 'Caller: יש לי נזילה בתל אביב', city: 'תל אביב-יפו', service_category: 'אינסטלציה' });
    const finished = await h.app.services.orm.em.fork().findOneOrFail(Call, { id: call.id });
    expect(finished.pipelineStatus).toBe('completed');
  });
});
