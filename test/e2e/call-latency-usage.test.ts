import type { ResponseAudioDeltaEvent, ResponseDoneEvent } from 'openai/resources/realtime/realtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { issueApiKey } from '../../src/entities/api-key.repository.ts';
import { Call } from '../../src/entities/call.entity.ts';
import { burstLevels, conversationWavFile } from '../../src/sandbox/conversation-audio.ts';
import { fixtureText, loadFixture } from '../../src/sandbox/fixtures.ts';
import { endedCall, eventually, placeCall, useCallHarness, type CallHarness, type PlacedCall } from '../support/calls.ts';
import { graphql } from '../support/graphql.ts';

/**
 * A call's latency and usage (Call.latency, Call.usage) end to end: a scripted call
 * through real sockets against the OpenAI Realtime stand-in, whose response.done events
 * report usage as OpenAI does; stored with the call's end, completed by the post-call
 * pipeline (the OpenAI REST stand-in reports its own usage), shown by GraphQL and sent in
 * the call.completed webhook.
 */

const callerLine = fixtureText('caller-booking');
const reply = 'בשמחה. באיזו עיר את גרה?';
/** gpt-realtime-1.5, per 1M tokens (developers.openai.com/api/docs/models/gpt-realtime-1.5). */
const realtimePrice = { audioIn: 32, textIn: 4, audioOut: 64, textOut: 16 };

/** What the stand-in reported over the call: every response.done's usage, summed; and the agent audio it streamed. */
function reported(session: PlacedCall['session']) {
  const done = session.sent.filter((event): event is ResponseDoneEvent => event.type === 'response.done');
  const sum = (pick: (usage: NonNullable<ResponseDoneEvent['response']['usage']>) => number | undefined) => done.reduce((total, event) => total + (pick(event.response.usage ?? {}) ?? 0), 0);
  const deltas = session.sent.filter((event): event is ResponseAudioDeltaEvent => event.type === 'response.output_audio.delta');
  return {
    responses: done.length,
    inputTokens: sum((usage) => usage.input_tokens),
    outputTokens: sum((usage) => usage.output_tokens),
    inputAudio: sum((usage) => usage.input_token_details?.audio_tokens),
    inputText: sum((usage) => usage.input_token_details?.text_tokens),
    outputAudio: sum((usage) => usage.output_token_details?.audio_tokens),
    outputText: sum((usage) => usage.output_token_details?.text_tokens),
    agentAudioBytes: deltas.reduce((total, event) => total + Buffer.from(event.delta, 'base64').length, 0),
    firstResponseAudioMs: deltas.filter((event) => event.response_id === deltas[0]?.response_id).reduce((total, event) => total + Buffer.from(event.delta, 'base64').length, 0) / 8,
  };
}

function callRow(h: CallHarness, callSid: string) {
  return h.app.services.orm.em.fork().findOneOrFail(Call, { callSid });
}

describe('Call.latency and Call.usage from a scripted call', () => {
  const h = useCallHarness({}, { recordCalls: true, pipeline: true });

  beforeAll(() => {
    h.twilioApi.processRecordingsIn(50);
    h.pipeline!.openaiApi.handle({ transcribe: (request) => ((burstLevels(request.audio)[0] ?? 0) < 6000 ? 'שלום' : callerLine) });
  });

  it('stores the greeting, the one turn and the tokens and audio the stand-in reported with the call’s end; the pipeline adds its transcription and text tokens; GraphQL and the webhook show both', async () => {
    const callSid = 'CA00000000000000000000000000002001';
    h.twilioApi.addCall({ sid: callSid, from: '+972501234567', to: '+97233824100' });
    h.twilioApi.recordingAudio(
      callSid,
      conversationWavFile(
        [
          { channel: 1, startSec: 0.1, lengthSec: 0.6, level: 3000 },
          { channel: 0, startSec: 1.0, lengthSec: 1.2, level: 9000 },
        ],
        3,
      ),
    );
    const call = await placeCall(h, callSid);
    call.session.script({ replies: [{ text: fixtureText('agent-greeting'), audio: loadFixture('agent-greeting') }, { text: reply }], callerTranscripts: [callerLine] });
    call.caller.start();
    // The greeting plays out before the caller speaks: no barge-in, every agent frame sent is heard.
    await eventually(() => call.session.sent.filter((event) => event.type === 'response.done').length, (n) => n === 1, 'the greeting');
    await eventually(() => call.caller.heardMs(), (ms) => ms >= reported(call.session).firstResponseAudioMs, 'the greeting to play');
    await call.caller.play(loadFixture('caller-booking'), { pace: 'instant' });
    await call.caller.silence(800, { pace: 'instant' });
    await eventually(() => call.session.sent.filter((event) => event.type === 'response.done').length, (n) => n === 2, 'the reply');
    const standIn = reported(call.session);
    await eventually(() => call.caller.receivedAudio().length, (bytes) => bytes >= standIn.agentAudioBytes, 'the reply audio at the caller');
    // Every caller frame (and silence filled in for a gap) that reached OpenAI.
    await eventually(() => call.session.inputAudioMs, (ms) => ms >= call.caller.sent.filter((message) => message.event === 'media').length * 20, 'the caller audio at OpenAI');
    const callerAudioMs = call.session.inputAudioMs;
    call.caller.stop();
    await call.caller.closed;
    h.twilioApi.hangUp(callSid);
    const ended = await endedCall(h, callSid);

    // Written with the call's end (no statement mid-call: test/e2e/call.test.ts counts them).
    expect(ended.latency).toMatchObject({ turns: 1, interruptions: 0, turnMs: [expect.any(Number)] });
    const latency = ended.latency!;
    expect(latency.greetingMs).toBeGreaterThanOrEqual(0);
    expect(latency.turnP50Ms).toBe(latency.turnMs[0]);
    expect(latency.turnP95Ms).toBe(latency.turnMs[0]);
    expect(latency.turnMaxMs).toBe(latency.turnMs[0]);
    expect(latency.openaiFirstAudioP50Ms).toBeGreaterThanOrEqual(0);

    expect(standIn.responses).toBe(2);
    expect(standIn.inputTokens).toBeGreaterThan(0);
    const usage = ended.usage!;
    expect(usage).toMatchObject({
      realtimeInputTokens: standIn.inputTokens,
      realtimeOutputTokens: standIn.outputTokens,
      realtimeTokens: { inputAudioTokens: standIn.inputAudio, inputTextTokens: standIn.inputText, outputAudioTokens: standIn.outputAudio, outputTextTokens: standIn.outputText },
      audioInputSec: Math.round(callerAudioMs / 100) / 10,
      audioOutputSec: Math.round((standIn.agentAudioBytes / 8000) * 10) / 10,
      transcriptionSec: null,
      textTokens: null,
      pipelineCostUsd: null,
    });
    const realtimeCost = (standIn.inputAudio * realtimePrice.audioIn + standIn.inputText * realtimePrice.textIn + standIn.outputAudio * realtimePrice.audioOut + standIn.outputText * realtimePrice.textOut) / 1e6;
    expect(usage.realtimeCostUsd).toBe(Math.round(realtimeCost * 10_000) / 10_000);
    expect(usage.estimatedCostUsd).toBe(usage.realtimeCostUsd);

    // The recording arrives; the pipeline transcribes it, summarises, extracts, and sends the webhook.
    const delivery = await h.pipeline!.receiver.waitForDelivery((d) => d.payload?.call_id === callSid, 20_000);
    const processed = await callRow(h, callSid);
    const transcriptions = h.pipeline!.openaiApi.calls.filter((c) => c.endpoint === 'transcriptions' && c.status === 200);
    const texts = h.pipeline!.openaiApi.calls.filter((c) => c.endpoint === 'responses' && c.status === 200);
    expect(transcriptions.length).toBe(2);
    expect(texts.length).toBe(2);
    const transcribedSec = transcriptions.reduce((total, c) => total + c.transcription!.durationSec, 0);
    // The stand-in counts a request's input at about four characters a token (instructions and input).
    const textInput = texts.reduce((total, c) => total + Math.ceil(c.response!.inputText.length / 4) + Math.ceil((c.response!.instructions ?? '').length / 4), 0);
    const after = processed.usage!;
    expect(after.transcriptionSec).toBe(Math.round(transcribedSec * 10) / 10);
    expect(after.textInputTokens).toBe(textInput);
    expect(after.textOutputTokens).toBeGreaterThan(0);
    expect(after.textTokens).toBe(textInput + after.textOutputTokens!);
    // gpt-transcribe $0.0045 a minute; gpt-5.4-mini $0.75 / $4.50 per 1M tokens.
    const pipelineCost = (transcribedSec / 60) * 0.0045 + (textInput * 0.75 + after.textOutputTokens! * 4.5) / 1e6;
    expect(after.pipelineCostUsd).toBeCloseTo(pipelineCost, 6);
    expect(after.estimatedCostUsd).toBe(Math.round((usage.realtimeCostUsd + after.pipelineCostUsd!) * 10_000) / 10_000);
    // The session's part is kept as it was.
    expect({ ...after, transcriptionSec: null, textTokens: null, textInputTokens: null, textOutputTokens: null, pipelineCostUsd: null, estimatedCostUsd: usage.estimatedCostUsd }).toEqual(usage);
    expect(processed.latency).toEqual(latency);

    expect(delivery.verified).toBe(true);
    expect(delivery.payload).toMatchObject({
      latency: { greeting_ms: latency.greetingMs, turns: 1, turn_p50_ms: latency.turnP50Ms, turn_p95_ms: latency.turnP95Ms, turn_max_ms: latency.turnMaxMs, interruptions: 0, turn_ms: latency.turnMs },
      usage: {
        realtime_input_tokens: standIn.inputTokens,
        realtime_output_tokens: standIn.outputTokens,
        audio_input_sec: usage.audioInputSec,
        audio_output_sec: usage.audioOutputSec,
        transcription_sec: after.transcriptionSec,
        text_tokens: after.textTokens,
        estimated_cost_usd: after.estimatedCostUsd,
        realtime_tokens: { input_audio_tokens: standIn.inputAudio, output_audio_tokens: standIn.outputAudio },
      },
    });

    const { key } = await issueApiKey(h.app.services.orm.em.fork(), { businessId: h.business.id, role: 'viewer', name: 'stats' });
    const { data, errors } = await graphql(
      h.app.url,
      key,
      `query($id: ID!) { call(id: $id) {
        latency { greetingMs turns turnP50Ms turnP95Ms turnMaxMs interruptions turnMs openaiFirstAudioP50Ms }
        usage { realtimeInputTokens realtimeOutputTokens audioInputSec audioOutputSec transcriptionSec textTokens estimatedCostUsd pricesAsOf realtimeTokens { outputAudioTokens } }
      } }`,
      { id: ended.id },
    );
    expect(errors).toBeUndefined();
    expect(data!.call).toEqual({
      latency: { greetingMs: latency.greetingMs, turns: 1, turnP50Ms: latency.turnP50Ms, turnP95Ms: latency.turnP95Ms, turnMaxMs: latency.turnMaxMs, interruptions: 0, turnMs: latency.turnMs, openaiFirstAudioP50Ms: latency.openaiFirstAudioP50Ms },
      usage: {
        realtimeInputTokens: standIn.inputTokens,
        realtimeOutputTokens: standIn.outputTokens,
        audioInputSec: usage.audioInputSec,
        audioOutputSec: usage.audioOutputSec,
        transcriptionSec: after.transcriptionSec,
        textTokens: after.textTokens,
        estimatedCostUsd: after.estimatedCostUsd,
        pricesAsOf: usage.pricesAsOf,
        realtimeTokens: { outputAudioTokens: standIn.outputAudio },
      },
    });
  });
});

describe('Call.latency counts a barge-in', () => {
  const h = useCallHarness({}, { pace: 'realtime' });
  /** 24 words: six seconds of agent audio. */
  const longGreeting = Array.from({ length: 24 }, (_, i) => `מילה${i}`).join(' ');

  it('one interruption, and the answer to what the caller said over the greeting is the call’s one turn', async () => {
    const { caller, session, callSid } = await placeCall(h, 'CA00000000000000000000000000002002');
    session.script({ replies: [{ text: longGreeting }, { text: 'בשמחה' }], callerTranscripts: [callerLine] });
    caller.start();
    await session.waitForSent('response.output_audio.delta');
    await caller.silence(1_500, { pace: 'realtime' });
    await caller.play(loadFixture('caller-booking'), { pace: 'realtime' });
    await caller.waitFor((message) => message.event === 'clear', 5_000);
    await caller.silence(800, { pace: 'realtime' });
    const stopped = await session.waitForSent('input_audio_buffer.speech_stopped', 5_000);
    const answered = await session.waitForSent('response.created', 5_000, { after: session.sent.indexOf(stopped) });
    const answerAudio = await session.waitForSent('response.output_audio.delta', 5_000, { after: session.sent.indexOf(answered) });
    await caller.waitFor((message) => message.event === 'media' && message.media.payload === answerAudio.delta, 5_000);
    caller.stop();
    await caller.closed;
    const row = await endedCall(h, callSid);
    expect(row.latency).toMatchObject({ interruptions: 1, turns: 1, turnMs: [expect.any(Number)] });
    expect(row.latency!.greetingMs).not.toBeNull();
    // Only what was sent counts as output audio: the greeting's cut-off rest never went to Twilio.
    expect(row.usage!.audioOutputSec).toBeLessThan(6);
  });
});
