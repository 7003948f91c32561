import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import packageJson from '../../package.json' with { type: 'json' };
import { freeSlots } from '../../src/core/business-hours.ts';
import { counterNames } from '../../src/core/metrics.ts';
import { histograms } from '../../src/core/metric-definitions.ts';
import { jobNames } from '../../src/core/queue.ts';
import { defaultWorkingHours } from '../../src/entities/business-settings.entity.ts';
import { instantToLocal } from '../../src/realtime/agent/tools/availability.ts';
import { fixtureText, loadFixture } from '../../src/sandbox/fixtures.ts';
import { recordingCallbackParams } from '../../src/sandbox/twilio-webhook.ts';
import { silentWavFile } from '../../src/sandbox/wav.ts';
import { agentSettings, endedCall, eventually, placeCall, startCallHarness, type CallHarness } from '../support/calls.ts';
import { family, sampleOf, scrapeMetrics, type ParsedFamily } from '../support/prometheus-text.ts';
import { postTwilioWebhook, twilioAccountSid } from '../support/twilio.ts';

/**
 * GET /metrics as Prometheus reads it: parsed with a real exposition-format parser
 * (parse-prometheus-text-format), after a call in which the agent books (a tool run), whose
 * recording goes through the post-call pipeline (its steps) to a webhook (an attempt).
 */

/** How many observations histogram `name` holds for `labels`, read from /metrics. */
function observations(families: ParsedFamily[], name: string, labels: Record<string, string> = {}): number {
  return Number(sampleOf(family(families, name), labels)?.count ?? 0);
}

describe('/metrics', () => {
  let h: CallHarness;

  beforeAll(async () => {
    h = await startCallHarness({ pipeline: true, recordCalls: true });
    await agentSettings(h);
  });
  afterAll(() => h?.stop());

  it('records a tool run, each pipeline step and a webhook attempt in their histograms, with their labels', async () => {
    const [slot] = freeSlots({ now: new Date(), days: 7, timeZone: 'Asia/Jerusalem', workingHours: defaultWorkingHours, slotMinutes: 30, booked: [] });
    const call = await placeCall(h, 'CA00000000000000000000000000002001');
    call.session.script({
      callerTranscripts: [fixtureText('caller-booking')],
      replies: [{ text: 'שלום' }, { toolCall: { name: 'book_appointment', arguments: { start: instantToLocal(slot!.start, 'Asia/Jerusalem') } } }, { text: 'קבעתי לך תור' }],
    });
    call.caller.start();
    await eventually(() => call.caller.heardMs(), (ms) => ms >= 500, 'the greeting to play');
    await call.caller.play(loadFixture('caller-booking'), { pace: 'instant' });
    await call.caller.silence(800, { pace: 'instant' });
    await call.session.waitForToolOutput();
    const during = await scrapeMetrics(h.app.url);
    expect(observations(during, 'callwatch_tool_run_seconds', { tool: 'book_appointment' })).toBe(1);
    expect(observations(during, 'callwatch_tool_run_seconds', { tool: 'check_availability' })).toBe(0);
    expect(Number(sampleOf(family(during, 'callwatch_active_calls'))?.value)).toBe(1);
    call.caller.stop();
    await call.caller.closed;
    const row = await endedCall(h, call.callSid);

    const recording = h.twilioApi.recordings.find((candidate) => candidate.callSid === call.callSid)!;
    const durationSec = Math.max(1, row.durationSec ?? 1);
    Object.assign(recording, { status: 'completed', audio: silentWavFile(durationSec, { sampleRate: 8000, channels: 2 }), durationSec });
    const params = recordingCallbackParams({ accountSid: twilioAccountSid, callSid: call.callSid, recordingSid: recording.sid, status: 'completed', durationSec, channels: 2 });
    expect((await postTwilioWebhook(h.app.url, '/twilio/recording', params)).status).toBe(204);
    await h.pipeline!.receiver.waitForDelivery((d) => d.payload?.call_id === call.callSid, 15_000);

    // Observed once the attempt is recorded, just after the receiver has answered.
    const after = await eventually(
      () => scrapeMetrics(h.app.url),
      (families) => observations(families, 'callwatch_webhook_attempt_seconds', { outcome: 'delivered' }) === 1,
      'the delivered attempt in webhook_attempt_seconds',
    );
    for (const step of ['download', 'transcribe', 'summarize', 'extract', 'deliver']) {
      expect(observations(after, 'callwatch_pipeline_step_seconds', { step }), step).toBe(1);
    }
    expect(observations(after, 'callwatch_webhook_attempt_seconds', { outcome: 'retry' })).toBe(0);
    expect(Number(sampleOf(family(after, 'callwatch_active_calls'))?.value)).toBe(0);
  });

  it('gives every family HELP and a type, histograms cumulative buckets up to +Inf, and the process metrics and build info', async () => {
    const families = await scrapeMetrics(h.app.url);
    for (const parsed of families) {
      expect(parsed.help, parsed.name).not.toBe('');
      expect(parsed.type, parsed.name).not.toBe('UNTYPED');
    }
    for (const name of counterNames) expect(family(families, `callwatch_${name}`).type, name).toBe('COUNTER');
    for (const name of Object.keys(histograms)) {
      const parsed = family(families, `callwatch_${name}`);
      expect(parsed.type, name).toBe('HISTOGRAM');
      for (const sample of parsed.metrics) {
        // An object's integer-like keys ("1", "2") come first whatever the text's order: sort by bound.
        const bounds = Object.keys(sample.buckets!).sort((a, b) => Number(a.replace('+Inf', 'Infinity')) - Number(b.replace('+Inf', 'Infinity')));
        expect(bounds.at(-1), name).toBe('+Inf');
        const counts = bounds.map((bound) => Number(sample.buckets![bound]));
        expect(counts, name).toEqual([...counts].sort((a, b) => a - b));
        expect(counts.at(-1), name).toBe(Number(sample.count));
        expect(bounds.slice(0, -1).map(Number), name).toEqual([...histograms[name as keyof typeof histograms].buckets]);
      }
    }
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) family(families, name);
    expect(sampleOf(family(families, 'callwatch_build_info'))?.labels).toEqual({ version: packageJson.version });
    expect(family(families, 'callwatch_audio_listeners').type).toBe('GAUGE');
    for (const queue of jobNames) {
      for (const state of ['ready', 'deferred', 'active', 'failed']) expect(sampleOf(family(families, 'callwatch_queue_jobs'), { queue, state }), `${queue} ${state}`).toBeDefined();
    }
  });

  it('reports queue depth by queue and state as pg-boss counts it', async () => {
    await h.app.services.queue.send('webhook.deliver', { deliveryId: randomUUID() }, { startAfter: new Date(Date.now() + 3_600_000) });
    // pg-boss refreshes its counts every 5 s; a scrape reuses them for 2 s.
    await eventually(
      () => scrapeMetrics(h.app.url),
      (families) => Number(sampleOf(family(families, 'callwatch_queue_jobs'), { queue: 'webhook.deliver', state: 'deferred' })?.value) >= 1,
      'the deferred job in callwatch_queue_jobs',
      20_000,
    );
  });
});
