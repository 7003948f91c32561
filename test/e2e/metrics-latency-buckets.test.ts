import type { ResponseAudioDeltaEvent } from 'openai/resources/realtime/realtime';
import { describe, expect, it } from 'vitest';
import { histograms } from '../../src/core/metric-definitions.ts';
import { fixtureText, loadFixture } from '../../src/sandbox/fixtures.ts';
import { endedCall, eventually, placeCall, useCallHarness } from '../support/calls.ts';
import { family, sampleOf, scrapeMetrics, type ParsedFamily } from '../support/prometheus-text.ts';

/**
 * What the latency histograms mean, end to end: a call against the OpenAI Realtime stand-in
 * whose time to first audio is set per response (`delayFirstAudio`) lands its greeting, its
 * turn and both responses' first audio in the buckets those delays put them in, as
 * Prometheus reads /metrics.
 *
 * Each delay sits in the middle of a bucket, 500 ms from either bound (what a loaded machine
 * adds or, delaying response.created, takes away stays well under it): the test checks
 * bucket membership, not a duration.
 */

/**
 * The greeting's first audio 3.5 s after its response.created: bucket (3, 4]. Mid-bucket on
 * purpose: under load, response.created itself can reach Callwatch late, which shortens the
 * measured time to first audio; 500 ms either way stays in the bucket.
 */
const greetingDelayMs = 3500;
/** The answer's: bucket (4, 5]. */
const answerDelayMs = 4500;

/** The cumulative count of histogram `name` at upper bound `le`, read from /metrics. */
function bucket(families: ParsedFamily[], name: string, le: number): number {
  return Number(sampleOf(family(families, `callwatch_${name}`))?.buckets?.[String(le)]);
}

describe('the latency histograms of a call whose timing is known', () => {
  const h = useCallHarness();

  it('puts the greeting, the turn and each response’s time to first audio in the buckets their delays fall in', async () => {
    // The bounds the assertions rely on are the histograms' own.
    for (const name of ['call_greeting_latency_seconds', 'call_turn_latency_seconds', 'openai_time_to_first_audio_seconds'] as const) {
      expect(histograms[name].buckets).toEqual(expect.arrayContaining([3, 4, 5]));
    }
    const { caller, session, callSid } = await placeCall(h, 'CA00000000000000000000000000003001');
    session.script({ replies: [{ text: fixtureText('agent-greeting'), audio: loadFixture('agent-greeting') }, { text: 'בשמחה. באיזו עיר?' }], callerTranscripts: [fixtureText('caller-booking')] });
    session.delayFirstAudio(greetingDelayMs);
    caller.start();
    const greetingAudio = await session.waitForSent('response.output_audio.delta', 10_000);
    session.delayFirstAudio(answerDelayMs);
    await session.waitForSent('response.done', 10_000);
    // The greeting plays out before the caller speaks: no barge-in.
    const greetingDeltas = session.sent.filter((event): event is ResponseAudioDeltaEvent => event.type === 'response.output_audio.delta' && event.response_id === greetingAudio.response_id);
    const greetingLengthMs = greetingDeltas.reduce((total, event) => total + Buffer.from(event.delta, 'base64').length, 0) / 8;
    await eventually(() => caller.heardMs(), (ms) => ms >= greetingLengthMs, 'the greeting to play');
    await caller.play(loadFixture('caller-booking'), { pace: 'instant' });
    await caller.silence(800, { pace: 'instant' });
    const stopped = await session.waitForSent('input_audio_buffer.speech_stopped', 10_000);
    const answerAudio = await session.waitForSent('response.output_audio.delta', 10_000, { after: session.sent.indexOf(stopped) });
    // The answer's first frame reached the caller: Callwatch has observed the turn.
    await caller.waitFor((message) => message.event === 'media' && message.media.payload === answerAudio.delta, 10_000);

    const families = await scrapeMetrics(h.app.url);
    expect(sampleOf(family(families, 'callwatch_call_greeting_latency_seconds'))?.count).toBe('1');
    expect([bucket(families, 'call_greeting_latency_seconds', 3), bucket(families, 'call_greeting_latency_seconds', 4)]).toEqual([0, 1]);
    expect(sampleOf(family(families, 'callwatch_call_turn_latency_seconds'))?.count).toBe('1');
    expect([bucket(families, 'call_turn_latency_seconds', 4), bucket(families, 'call_turn_latency_seconds', 5)]).toEqual([0, 1]);
    // One observation per response: the greeting's in (3, 4], the answer's in (4, 5].
    expect(sampleOf(family(families, 'callwatch_openai_time_to_first_audio_seconds'))?.count).toBe('2');
    expect([3, 4, 5].map((le) => bucket(families, 'openai_time_to_first_audio_seconds', le))).toEqual([0, 1, 2]);

    caller.stop();
    await caller.closed;
    const row = await endedCall(h, callSid);
    // The call's own record agrees with the histograms (same measurements).
    expect(row.latency).toMatchObject({ turns: 1, interruptions: 0 });
    expect(row.latency!.turnMs[0]).toBeGreaterThan(4000);
    expect(row.latency!.turnMs[0]).toBeLessThanOrEqual(5000);
  });
});
