import { describe, expect, it } from 'vitest';
import { BusinessSettings } from '../../src/entities/business-settings.entity.ts';
import { loadFixture } from '../../src/sandbox/fixtures.ts';
import { agentSettings, endedCall, eventually, placeCall, useCallHarness, type CallHarness } from '../support/calls.ts';

/**
 * The responses Callwatch asks of the model, end to end against the Realtime stand-in:
 * what each one is told, when it is sent, and what happens when the service refuses,
 * fails or cuts one short.
 */

let sequence = 1600;
const nextSid = () => `CA${String(++sequence).padStart(32, '0')}`;

const persona = 'את נועה, המזכירה של שיפוצי הגליל. דברי בחום ובקיצור.';

async function setPersona(h: CallHarness): Promise<void> {
  const em = h.app.services.orm.em.fork();
  const row = await em.findOneOrFail(BusinessSettings, { business: h.business.id });
  row.agentInstructions = persona;
  await em.flush();
}

describe('per-response instructions', () => {
  const h = useCallHarness();

  it('keep the business prompt and its language in the greeting, the reprompt, the goodbye and the apology (regression: each replaced the prompt)', async () => {
    await agentSettings(h, { silenceTimeoutSec: 1, silenceReprompts: 1 });
    await setPersona(h);
    const { caller, session, callSid } = await placeCall(h, nextSid());
    session.script({ replies: [{ text: 'שלום' }] });
    caller.start();
    await eventually(() => session.responseRequests.length, (n) => n >= 1, 'the greeting');
    // The connection drops after the greeting: the resumed session apologises, then the watchdog reprompts and says goodbye.
    await eventually(() => caller.heardMs(), (ms) => ms >= 400, 'the greeting played');
    const sessionsBefore = h.openai.sessions.length;
    session.drop();
    await eventually(() => h.openai.sessions.length, (n) => n > sessionsBefore, 'the reconnect');
    const resumed = h.openai.sessions[sessionsBefore]!;
    resumed.script({ replies: [{ text: 'סליחה' }, { text: 'הלו?' }, { text: 'להתראות' }] });
    const row = await endedCall(h, callSid);
    expect(row.endReason).toBe('caller silent');

    const instructions = [...session.responseRequests, ...resumed.responseRequests].map((request) => request.instructions ?? '');
    expect(instructions).toEqual([
      expect.stringContaining('Say exactly this'),
      expect.stringContaining('Apologise'),
      expect.stringContaining('still on the line'),
      expect.stringContaining('goodbye'),
    ]);
    for (const text of instructions) {
      expect(text.startsWith(persona)).toBe(true);
      expect(text).toContain('Hebrew');
    }
    caller.stop();
    await caller.closed;
  });
});

const hangUpRequest = (h: CallHarness, callSid: string) =>
  h.twilioApi.waitForRequest((request) => request.method === 'POST' && request.path.endsWith(`/Calls/${callSid}.json`), 15_000);

describe('a session.update OpenAI rejects', () => {
  const h = useCallHarness();

  it('is a lost agent: nothing is sent to a session still on PCM 24 kHz, the caller hears the apology, the call is failed with the reason (regression: the greeting and μ-law audio went to it)', async () => {
    // The input transcription model is retired: OpenAI refuses the whole update, so the session keeps its defaults.
    h.openai.rejectTranscriptionModel('gpt-live-transcribe');
    const { caller, session, callSid } = await placeCall(h, nextSid());
    caller.start();
    await caller.play(loadFixture('caller-booking'), { pace: 'instant' });
    const apology = await hangUpRequest(h, callSid);
    expect(apology.params.Twiml).toMatch(/<Say language="he-IL"[^>]*>מצטערים/);
    const row = await endedCall(h, callSid);
    expect(row.status).toBe('failed');
    expect(row.endReason).toMatch(/^voice agent unavailable: OpenAI refused the session configuration/);
    expect(session.config.audio?.output?.format).toMatchObject({ type: 'audio/pcm' });
    expect(session.received.map((event) => event.type)).toEqual(['session.update']);
    caller.stop();
    await caller.closed;
  });
});

describe('a response OpenAI fails', () => {
  const h = useCallHarness();

  it('is asked for again once the rate limit resets, and the caller hears the greeting (regression: a failed response.done was silence)', async () => {
    const { caller, session, callSid } = await placeCall(h, nextSid());
    session.script({ replies: [{ fail: { resetSeconds: 1.2 } }, { text: 'שלום שרה' }] });
    const failedBefore = h.app.services.metrics.getLabeled('openai_response_failed_total', 'rate_limit_exceeded');
    caller.start();
    await eventually(() => caller.heardMs(), (ms) => ms >= 400, 'the greeting, on the second try', 15_000);
    expect(session.responseRequests).toHaveLength(2);
    expect(session.responseRequests[1]!.instructions).toBe(session.responseRequests[0]!.instructions);
    // Not before the reset OpenAI reported.
    const failedAt = session.times.sent[session.sent.findIndex((event) => event.type === 'response.done')]!;
    const retriedAt = session.times.received[session.received.findLastIndex((event) => event.type === 'response.create')]!;
    expect(retriedAt - failedAt).toBeGreaterThanOrEqual(1150);
    expect(h.app.services.metrics.getLabeled('openai_response_failed_total', 'rate_limit_exceeded')).toBe(failedBefore + 1);
    caller.stop();
    await caller.closed;
    expect((await endedCall(h, callSid)).status).toBe('completed');
  });

  it('gives the agent up after the retries: the caller hears the apology, the call is failed with the code', async () => {
    const { caller, session, callSid } = await placeCall(h, nextSid());
    const serverError = { fail: { code: 'server_error' } };
    session.script({ replies: [serverError, serverError, serverError] });
    caller.start();
    const apology = await hangUpRequest(h, callSid);
    expect(apology.params.Twiml).toMatch(/מצטערים/);
    const row = await endedCall(h, callSid);
    expect(row.status).toBe('failed');
    expect(row.endReason).toMatch(/^voice agent unavailable: OpenAI responses failed \(server_error/);
    expect(session.responseRequests).toHaveLength(3);
    caller.stop();
    await caller.closed;
  });

  it('asks a response that was cut off to finish its thought', async () => {
    const { caller, session, callSid } = await placeCall(h, nextSid());
    session.script({ replies: [{ text: 'שלום שרה, איך אפשר לעזור היום', incomplete: 'max_output_tokens' }, { text: 'לעזור לך היום?' }] });
    caller.start();
    await eventually(() => session.responseRequests.length, (n) => n === 2, 'the continuation');
    expect(session.responseRequests[1]!.instructions).toContain('cut off');
    caller.stop();
    await caller.closed;
    expect((await endedCall(h, callSid)).status).toBe('completed');
  });
});

describe('tools against a realistic session', () => {
  const h = useCallHarness();

  /** The caller says something; server VAD answers with the session's next scripted reply. */
  async function callerSpeaks(caller: Awaited<ReturnType<typeof placeCall>>['caller']): Promise<void> {
    await caller.play(loadFixture('caller-booking'), { pace: 'instant' });
    await caller.silence(800, { pace: 'instant' });
  }

  it('answers the tool only after its response is done, with one response.create (regression: it was refused while the response was still active)', async () => {
    const { caller, session, callSid } = await placeCall(h, nextSid());
    session.delayResponseDone(400);
    session.script({ replies: [{ text: 'שלום' }, { toolCall: { name: 'save_lead_details', arguments: { city: 'חיפה' } } }, { text: 'רשמתי' }], callerTranscripts: ['אני מחיפה'] });
    caller.start();
    await eventually(() => session.sent.filter((event) => event.type === 'response.done').length, (n) => n === 1, 'the greeting');
    await callerSpeaks(caller);
    await eventually(() => session.responseRequests.length, (n) => n === 2, 'the tool’s answer');
    await eventually(() => session.sent.filter((event) => event.type === 'response.done').length, (n) => n === 3, 'the answer spoken');
    expect(session.sent.filter((event) => event.type === 'error')).toEqual([]);
    caller.stop();
    await caller.closed;
    const row = await endedCall(h, callSid);
    expect(row.timeline.filter((event) => event.type === 'tool.result')).toHaveLength(1);
  });

  it('runs every function call of a response, sends all outputs, then one response (parallel tool calls)', async () => {
    const { caller, session } = await placeCall(h, nextSid());
    session.script({
      replies: [
        { text: 'שלום' },
        { output: [{ text: 'רגע, אני בודקת' }, { toolCall: { name: 'save_lead_details', arguments: { city: 'חיפה' }, callId: 'call_lead' } }, { toolCall: { name: 'check_availability', arguments: { date: '2026-12-06' }, callId: 'call_slots' } }] },
        { text: 'יש מקום ביום ראשון' },
      ],
      callerTranscripts: ['אני מחיפה, יש מקום ביום ראשון?'],
    });
    caller.start();
    await eventually(() => session.sent.filter((event) => event.type === 'response.done').length, (n) => n === 1, 'the greeting');
    await callerSpeaks(caller);
    await eventually(() => session.responseRequests.length, (n) => n === 2, 'the tools’ answer');
    const after = session.received.slice(session.received.findIndex((event) => event.type === 'conversation.item.create'));
    expect(after.map((event) => (event.type === 'conversation.item.create' && event.item.type === 'function_call_output' ? event.item.call_id : event.type)).filter((type) => type !== 'input_audio_buffer.append')).toEqual([
      'call_lead',
      'call_slots',
      'response.create',
    ]);
    expect(session.sent.filter((event) => event.type === 'error')).toEqual([]);
    caller.stop();
    await caller.closed;
  });

  it('never runs the function call of a response the caller cancelled (regression: it ran on the arguments, before the response was done)', async () => {
    const { caller, session, callSid } = await placeCall(h, nextSid());
    session.script({ replies: [{ text: 'שלום' }, { toolCall: { name: 'save_lead_details', arguments: { city: 'חיפה' } } }, { text: 'כן?' }], callerTranscripts: ['אני מחיפה', 'רגע'] });
    caller.start();
    await eventually(() => session.sent.filter((event) => event.type === 'response.done').length, (n) => n === 1, 'the greeting');
    session.delayResponseDone(2_000);
    await callerSpeaks(caller);
    await session.waitForSent('response.function_call_arguments.done');
    // The caller talks again before the response is done: server VAD cancels it.
    const sentBefore = session.sent.length;
    await caller.play(loadFixture('caller-booking'), { pace: 'instant' });
    const done = await session.waitForSent('response.done', 5_000, { after: sentBefore });
    expect(done.response.status).toBe('cancelled');
    await caller.silence(800, { pace: 'instant' });
    await eventually(() => session.sent.filter((event) => event.type === 'response.done').length, (n) => n === 3, 'the answer to the second turn');
    expect(session.toolOutputs).toEqual([]);
    caller.stop();
    await caller.closed;
    const row = await endedCall(h, callSid);
    expect(row.timeline.filter((event) => event.type === 'tool.called')).toEqual([]);
  });

  it('sends the tools’ answer again after server VAD’s response got there first (regression: the refusal was only logged)', async () => {
    const { caller, session } = await placeCall(h, nextSid());
    session.script({ replies: [{ text: 'שלום' }, { toolCall: { name: 'save_lead_details', arguments: { city: 'חיפה' } } }, { text: 'אה?' }, { text: 'רשמתי' }], callerTranscripts: ['אני מחיפה'] });
    caller.start();
    await eventually(() => session.sent.filter((event) => event.type === 'response.done').length, (n) => n === 1, 'the greeting');
    session.raceNextResponseCreate();
    await callerSpeaks(caller);
    await eventually(() => session.sent.filter((event) => event.type === 'error').length, (n) => n === 1, 'the refused response.create');
    await eventually(() => session.responseRequests.length, (n) => n === 2, 'the tools’ answer, sent again');
    await eventually(() => session.sent.filter((event) => event.type === 'response.done').length, (n) => n === 4, 'the answer spoken');
    caller.stop();
    await caller.closed;
  });
});

describe('the time-limit goodbye while the agent speaks', () => {
  const h = useCallHarness({ maxCallDurationSec: 1 });

  it('waits for the agent’s sentence, says goodbye, then hangs up (regression: it was refused, and the call hung up without one)', async () => {
    const { caller, session, callSid } = await placeCall(h, nextSid());
    session.delayResponseDone(1_500);
    session.script({ replies: [{ text: 'שלום שרה, ברוכה הבאה לשיפוצי הגליל' }, { text: 'תודה ולהתראות' }] });
    caller.start();
    const update = await hangUpRequest(h, callSid);
    expect(update.params.Status).toBe('completed');
    expect(session.responseRequests.map((request) => request.instructions)).toEqual([expect.stringContaining('Say exactly this'), expect.stringContaining('time limit')]);
    expect(session.sent.filter((event) => event.type === 'error')).toEqual([]);
    const row = await endedCall(h, callSid);
    expect(row.endReason).toBe('maximum call duration');
    caller.stop();
    await caller.closed;
  });
});
