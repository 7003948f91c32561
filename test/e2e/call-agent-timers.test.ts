import { describe, expect, it } from 'vitest';
import { Call } from '../../src/entities/call.entity.ts';
import { loadFixture } from '../../src/sandbox/fixtures.ts';
import { agentSettings, endedCall, eventually, placeCall, useCallHarness, type CallHarness } from '../support/calls.ts';
import { postTwilioWebhook, twilioAccountSid } from '../support/twilio.ts';

/**
 * The awkward moments of a call, end to end: a silent caller, a call that runs too long,
 * and the voice agent's connection failing — once (reconnected) or for good (apology).
 */

let sequence = 700;
const nextSid = () => `CA${String(++sequence).padStart(32, '0')}`;



const hangUpRequest = (harness: CallHarness, callSid: string) =>
  harness.twilioApi.waitForRequest((request) => request.method === 'POST' && request.path.endsWith(`/Calls/${callSid}.json`), 15_000);

describe('silence and time limits', () => {
  const h = useCallHarness();

  it('reprompts a silent caller, then says goodbye and hangs up', async () => {
    await agentSettings(h, { silenceTimeoutSec: 1, silenceReprompts: 1 });
    const { caller, session, callSid } = await placeCall(h, nextSid());
    session.script({ replies: [{ text: 'שלום' }, { text: 'הלו, את עדיין על הקו?' }, { text: 'תודה ולהתראות' }] });
    caller.start();

    const update = await hangUpRequest(h, callSid);
    expect(update.params.Status).toBe('completed');
    expect(session.responseRequests.map((request) => request.instructions)).toEqual([
      expect.stringContaining('Say exactly this'),
      expect.stringContaining('still on the line'),
      expect.stringContaining('goodbye'),
    ]);
    // The goodbye had played before the hang-up: every agent response reached the caller.
    expect(caller.heardMs()).toBeGreaterThanOrEqual(500 + 4 * 250 + 2 * 250 - 50);
    const row = await endedCall(h, callSid);
    expect(row).toMatchObject({ status: 'completed', endReason: 'caller silent' });
    expect(row.timeline.map((event) => event.type)).toEqual(['call.started', 'watchdog.reprompt', 'call.closing', 'call.ended']);
  });

  it('is reset by the caller speaking', async () => {
    await agentSettings(h, { silenceTimeoutSec: 1, silenceReprompts: 1 });
    const { caller, session, callSid } = await placeCall(h, nextSid());
    session.script({ replies: [{ text: 'שלום' }, { text: 'הלו?' }, { text: 'במה אפשר לעזור?' }], callerTranscripts: ['כן, אני פה'] });
    caller.start();
    await eventually(() => session.responseRequests.length, (n) => n === 2, 'the reprompt');
    await caller.play(loadFixture('caller-booking'), { pace: 'instant' });
    await caller.silence(800, { pace: 'instant' });
    // Speech restarted the count: the next silence is a reprompt again, not a goodbye.
    await eventually(() => session.responseRequests.length, (n) => n === 3, 'a reprompt after the answer', 15_000);
    expect(session.responseRequests[2]?.instructions).toContain('still on the line');
    caller.stop();
    await caller.closed;
    await endedCall(h, callSid);
  });

  it('closes politely at the maximum call duration', async () => {
    await agentSettings(h, { maxCallDurationSec: 2 });
    const { caller, session, callSid } = await placeCall(h, nextSid());
    session.script({ replies: [{ text: 'שלום' }, { text: 'הגענו לסוף הזמן, להתראות' }] });
    caller.start();
    const update = await hangUpRequest(h, callSid);
    expect(update.params.Status).toBe('completed');
    expect(session.responseRequests[1]?.instructions).toContain('time limit');
    const row = await endedCall(h, callSid);
    expect(row).toMatchObject({ status: 'completed', endReason: 'maximum call duration' });
    expect(row.durationSec).toBeGreaterThanOrEqual(2);
  });
});

describe('the voice agent’s connection failing', () => {
  const h = useCallHarness();

  it('stays on its session after a server_error event, which leaves the session open (regression: any server_error tore a healthy session down)', async () => {
    const { caller, session, callSid } = await placeCall(h, nextSid());
    session.script({ replies: [{ text: 'שלום שרה' }, { text: 'בשמחה' }], callerTranscripts: ['אני רוצה תור'] });
    caller.start();
    await eventually(() => caller.heardMs(), (ms) => ms >= 500, 'the greeting');
    const sessionsBefore = h.openai.sessions.length;
    session.sendError({ type: 'server_error', message: 'The server had an error while processing your request.' });

    // The call goes on with the same session: the caller's speech reaches it and is answered.
    await caller.play(loadFixture('caller-booking'), { pace: 'instant' });
    await caller.silence(800, { pace: 'instant' });
    await session.waitForSent('conversation.item.input_audio_transcription.completed');
    await eventually(() => session.sent.filter((event) => event.type === 'response.done').length, (n) => n >= 2, 'the answer');
    caller.stop();
    await caller.closed;
    const row = await endedCall(h, callSid);
    expect(h.openai.sessions).toHaveLength(sessionsBefore);
    expect(row.status).toBe('completed');
    expect(row.timeline.filter((event) => event.type === 'agent.failure')).toEqual([]);
  });

  it('reconnects once when the OpenAI socket drops, with the session and the conversation so far', async () => {
    const { caller, session, callSid } = await placeCall(h, nextSid());
    session.script({ replies: [{ text: 'שלום שרה' }] });
    caller.start();
    await eventually(() => caller.heardMs(), (ms) => ms >= 500, 'the greeting');
    const sessionsBefore = h.openai.sessions.length;
    session.drop();

    await eventually(() => h.openai.sessions.length, (n) => n === sessionsBefore + 1, 'the reconnect');
    const resumed = h.openai.sessions[sessionsBefore]!;
    resumed.script({ replies: [{ text: 'סליחה על ההפרעה' }, { text: 'בשמחה' }], callerTranscripts: ['אני רוצה תור'] });
    const update = await resumed.waitForReceived('session.update');
    expect((update.session as { tools?: unknown[] }).tools).toHaveLength(5);
    await resumed.waitForReceived('response.create');
    // The conversation so far, restored as items (not a summary): the greeting is the agent's own message.
    expect(resumed.received).toContainEqual({ type: 'conversation.item.create', item: { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'שלום שרה' }] } });

    // The call goes on with the new session: the caller's speech reaches it.
    await caller.play(loadFixture('caller-booking'), { pace: 'instant' });
    await caller.silence(800, { pace: 'instant' });
    await resumed.waitForSent('conversation.item.input_audio_transcription.completed');
    caller.stop();
    await caller.closed;
    const row = await endedCall(h, callSid);
    expect(row.status).toBe('completed');
    expect(row.timeline.filter((event) => event.type === 'agent.failure')).toMatchObject([{ recovered: false }, { recovered: true }]);
  });

  it('apologises through Twilio and marks the call failed when the reconnect fails too', async () => {
    const { caller, session, callSid } = await placeCall(h, nextSid());
    session.script({ replies: [{ text: 'שלום' }] });
    caller.start();
    await eventually(() => caller.heardMs(), (ms) => ms >= 500, 'the greeting');
    // OpenAI is gone: this session drops and nothing answers the reconnect.
    await h.openai.close();

    const apology = await hangUpRequest(h, callSid);
    expect(apology.params.Twiml).toMatch(/<Say language="he-IL" voice="Google\.he-IL-Standard-A">מצטערים, יש לנו תקלה טכנית\..*<\/Say><Hangup\/>/);
    expect(h.twilioApi.alerts.filter((alert) => alert.resourceSid === callSid)).toEqual([]);
    const row = await endedCall(h, callSid);
    expect(row.status).toBe('failed');
    expect(row.endReason).toMatch(/^voice agent unavailable: /);
    expect(row.timeline.filter((event) => event.type === 'agent.failure')).toMatchObject([{ recovered: false }, { recovered: false }]);
    // Twilio reporting the call completed does not hide the failure, nor change the times the session wrote.
    await postTwilioWebhook(h.app.url, '/twilio/status', { AccountSid: twilioAccountSid, CallSid: callSid, CallStatus: 'completed', CallDuration: '3' });
    expect(await h.app.services.orm.em.fork().findOneOrFail(Call, { callSid })).toMatchObject({ status: 'failed', durationSec: row.durationSec, endedAt: row.endedAt });
    caller.stop();
    await caller.closed;
  });
});

describe('the voice agent lost for good, with a transfer number', () => {
  const h = useCallHarness({ transferNumber: '+972529998877' });

  it('hands the caller to a person instead of apologising', async () => {
    const { caller, session, callSid } = await placeCall(h, nextSid());
    session.script({ replies: [{ text: 'שלום' }] });
    caller.start();
    await eventually(() => caller.heardMs(), (ms) => ms >= 500, 'the greeting');
    await h.openai.close();

    const transfer = await hangUpRequest(h, callSid);
    expect(transfer.params.Twiml).toMatch(/<Dial answerOnBridge="true">\+972529998877<\/Dial>/);
    const row = await endedCall(h, callSid);
    expect(row.status).toBe('failed');
    expect(row.timeline.find((event) => event.type === 'call.transfer')).toMatchObject({ ok: true, reason: 'voice agent unavailable' });
    caller.stop();
    await caller.closed;
  });
});
