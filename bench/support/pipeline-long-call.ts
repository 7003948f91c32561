import type { EntityManager } from '@mikro-orm/postgresql';
import type { OpenAIApiStandIn } from '../../src/sandbox/openai-api.server.ts';
import type { TwilioApiStandIn } from '../../src/sandbox/twilio-api.server.ts';
import { recordingCallbackParams } from '../../src/sandbox/twilio-webhook.ts';
import { longCall } from '../../test/support/long-call.ts';
import { postTwilioWebhook, twilioAccountSid } from '../../test/support/twilio.ts';
import type { Arrivals } from './pipeline-load.ts';
import { seedFinishedCalls } from './pipeline-seed.ts';
import type { PipelineTarget } from './pipeline-targets.ts';
import { commandLine, machine, revision } from './report.ts';

/** One long call through Callwatch: how long, how many OpenAI requests, how many bytes. */
export interface LongCallFigures {
  durationSec: number;
  recordingBytes: number;
  wallMs: number;
  requests: number;
  uploadedBytes: number;
  longestRequestSec: number;
  largestRequestBytes: number;
  transcriptLines: number;
}

const longCallTimeoutMs = 600_000;

/**
 * Sends one finished 40-minute dual-channel call (test/support/long-call.ts: ~300 turns,
 * one 12-minute monologue) through `target` alone — seeded, recorded at the Twilio stand-in,
 * Twilio's callback posted — and measures callback → verified webhook, and the transcription
 * requests OpenAI's stand-in answered meanwhile. The stand-ins answer at once, so the wall
 * time is Callwatch's own: the 77 MB download, storing it, cutting it, the uploads.
 */
export async function measureLongCall(
  target: PipelineTarget,
  world: { em: EntityManager; twilio: TwilioApiStandIn; openai: OpenAIApiStandIn; arrivals: Arrivals; businessId: string; run: number },
): Promise<LongCallFigures> {
  const call = longCall(2400);
  const [seeded] = await seedFinishedCalls(world.em, world.twilio, world.businessId, { count: 1, run: world.run, first: 2_000_000, audio: call.audio, channels: 2, durationSec: call.durationSec });
  if (!seeded) throw new Error('the long call was not seeded');
  const before = world.openai.calls.length;
  const params = recordingCallbackParams({ accountSid: twilioAccountSid, callSid: seeded.callSid, recordingSid: seeded.recordingSid, status: 'completed', durationSec: call.durationSec, channels: 2 });
  const sentAt = performance.now();
  const arrived = world.arrivals.expect(seeded.callSid, sentAt, longCallTimeoutMs);
  const response = await postTwilioWebhook(target.child.url, '/twilio/recording', params);
  if (response.status !== 204) throw new Error(`the long call's recording callback was answered ${response.status}`);
  const latency = await arrived;
  if (latency === null) throw new Error(`the long call's webhook did not come within ${longCallTimeoutMs / 1000} s\n${target.child.output()}`);

  const requests = world.openai.calls.slice(before).filter((c) => c.endpoint === 'transcriptions');
  const failed = requests.filter((r) => r.status !== 200);
  if (failed.length > 0) throw new Error(`${failed.length} transcription request(s) of the long call failed (first: ${failed[0]?.status})`);
  return {
    durationSec: call.durationSec,
    recordingBytes: call.audio.length,
    wallMs: latency,
    requests: requests.length,
    uploadedBytes: requests.reduce((sum, r) => sum + (r.transcription?.audio.length ?? 0), 0),
    longestRequestSec: Math.max(...requests.map((r) => r.transcription?.durationSec ?? 0)),
    largestRequestBytes: Math.max(...requests.map((r) => r.transcription?.audio.length ?? 0)),
    transcriptLines: call.transcript.split('\n').length,
  };
}

/** The long call's figures as a BENCHMARKS.md section body. */
export function renderLongCallReport(figures: LongCallFigures, startedAt: Date): string {
  const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
  return [
    `Measured ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC on ${machine()}, revision ${revision()}; \`${commandLine('bench:pipeline', 'bench/pipeline.bench.ts')}\`.`,
    `One finished ${figures.durationSec / 60}-minute call, its recording dual-channel 8 kHz PCM WAV (${mb(figures.recordingBytes)}), through Callwatch (ROLE=all) after the measured rounds; the stand-ins answer at once.`,
    '',
    '| Figure | Value |',
    '| --- | --- |',
    `| Callback → verified webhook | ${(figures.wallMs / 1000).toFixed(1)} s |`,
    `| OpenAI transcription requests | ${figures.requests} (the transcript has ${figures.transcriptLines} turns) |`,
    `| Bytes uploaded to OpenAI | ${mb(figures.uploadedBytes)} (${((100 * figures.uploadedBytes) / figures.recordingBytes).toFixed(0)} % of the recording: silence is not sent) |`,
    `| Longest request | ${figures.longestRequestSec.toFixed(1)} s of audio, ${mb(figures.largestRequestBytes)} (OpenAI's limits: 1500 s, 26.2 MB) |`,
  ].join('\n');
}
