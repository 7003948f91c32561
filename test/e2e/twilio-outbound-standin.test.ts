import { createServer, type Server } from 'node:http';
import twilio from 'twilio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTwilioClient } from '../../src/core/twilio-client.ts';
import { closeServer, listenOnLoopback, readBody } from '../../src/sandbox/http.ts';
import { startTwilioApiStandIn, type TwilioApiStandIn, type TwilioCallback } from '../../src/sandbox/twilio-api.server.ts';

/** One request the application side received from the stand-in, checked as a Twilio webhook. */
interface Received {
  method: string;
  path: string;
  params: Record<string, string>;
  signatureValid: boolean;
}

const STREAM_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="wss://callwatch.test/twilio/media"/></Connect></Response>';
const HANGUP_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response><Hangup/></Response>';
const FROM = '+97231234567';

describe('Twilio REST stand-in: outbound calls', () => {
  let twilioApi: TwilioApiStandIn;
  let app: Server;
  let appUrl: string;
  const received: Received[] = [];
  /** The URL the application is known by in signatures: its real address unless a test routes a public one. */
  let signedOrigin = () => appUrl;

  beforeAll(async () => {
    twilioApi = await startTwilioApiStandIn();
    app = createServer(async (req, res) => {
      const raw = (await readBody(req)).toString('utf8');
      const url = `${signedOrigin()}${req.url ?? '/'}`;
      const params = Object.fromEntries(new URLSearchParams(raw));
      const signature = String(req.headers['x-twilio-signature'] ?? '');
      received.push({ method: req.method ?? '', path: new URL(url).pathname, params, signatureValid: twilio.validateRequest(twilioApi.authToken, signature, url, params) });
      const isVoice = req.url?.startsWith('/voice');
      res.writeHead(200, { 'content-type': isVoice ? 'text/xml' : 'text/plain' });
      // as a dialer would: talk to a person, hang up on a machine
      res.end(isVoice ? (params.AnsweredBy?.startsWith('machine') ? HANGUP_TWIML : STREAM_TWIML) : 'ok');
    });
    appUrl = `http://127.0.0.1:${await listenOnLoopback(app)}`;
  });
  afterAll(async () => {
    await twilioApi.close();
    await closeServer(app);
  });

  function client() {
    return createTwilioClient({ accountSid: twilioApi.accountSid, authToken: twilioApi.authToken, apiUrl: twilioApi.url });
  }

  function dial(to: string, options: Record<string, unknown> = {}) {
    return client().calls.create({
      to,
      from: FROM,
      url: `${appUrl}/voice`,
      statusCallback: `${appUrl}/status`,
      statusCallbackEvent: ['initiated', 'ringing', 'answered', 'completed'],
      ...options,
    });
  }

  function statusCallbacks(callSid: string): Received[] {
    return received.filter((r) => r.path === '/status' && r.params.CallSid === callSid);
  }

  function isFinal(callSid: string) {
    return (c: TwilioCallback) => c.callSid === callSid && c.kind === 'status' && ['completed', 'busy', 'no-answer', 'failed', 'canceled'].includes(c.params.CallStatus ?? '');
  }

  it('sends late progress callbacks after the final one when told, numbered in the order the statuses happened', async () => {
    twilioApi.delayProgressCallbacks(300);
    try {
      const call = await dial('+972501110099');
      await twilioApi.waitForVoiceTwiml(call.sid);
      await client().calls(call.sid).update({ status: 'completed' });
      for (const status of ['initiated', 'ringing', 'in-progress']) {
        await twilioApi.waitForCallback((c) => c.callSid === call.sid && c.kind === 'status' && c.params.CallStatus === status);
      }
      const arrived = statusCallbacks(call.sid).map((r) => [r.params.CallStatus, r.params.SequenceNumber]);
      // The final status first; the late ones are separate requests, so in any order among themselves.
      expect(arrived[0]).toEqual(['completed', '3']);
      expect(arrived.slice(1).sort()).toEqual([
        ['in-progress', '2'],
        ['initiated', '0'],
        ['ringing', '1'],
      ]);
      expect(statusCallbacks(call.sid).every((r) => r.signatureValid)).toBe(true);
    } finally {
      twilioApi.delayProgressCallbacks(null);
    }
  });

  it('answers: initiated, ringing, in-progress, fetches the voice URL, and reports completed on hang-up', async () => {
    const call = await dial('+972501110001');
    expect(call).toMatchObject({ status: 'queued', direction: 'outbound-api', to: '+972501110001', from: FROM });
    expect(call.sid).toMatch(/^CA[0-9a-f]{32}$/);

    expect(await twilioApi.waitForVoiceTwiml(call.sid)).toBe(STREAM_TWIML);
    const voice = received.find((r) => r.path === '/voice' && r.params.CallSid === call.sid);
    expect(voice).toMatchObject({ method: 'POST', signatureValid: true });
    expect(voice?.params).toMatchObject({ AccountSid: twilioApi.accountSid, CallStatus: 'in-progress', Direction: 'outbound-api', From: FROM, To: '+972501110001' });
    expect(voice?.params.AnsweredBy).toBeUndefined();
    expect(twilioApi.placedCalls.at(-1)).toMatchObject({ sid: call.sid, outcome: 'answer', voiceTwiml: STREAM_TWIML });
    expect((await client().calls(call.sid).fetch()).status).toBe('in-progress');

    await client().calls(call.sid).update({ status: 'completed' });
    await twilioApi.waitForCallback(isFinal(call.sid));
    const statuses = statusCallbacks(call.sid);
    expect(statuses.map((r) => [r.params.CallStatus, r.params.SequenceNumber])).toEqual([
      ['initiated', '0'],
      ['ringing', '1'],
      ['in-progress', '2'],
      ['completed', '3'],
    ]);
    expect(statuses.every((r) => r.signatureValid && r.method === 'POST')).toBe(true);
    expect(statuses[3]?.params).toMatchObject({ CallbackSource: 'call-progress-events', Direction: 'outbound-api', CallDuration: '0', SipResponseCode: '200' });
    expect(statuses[3]?.params.Timestamp).toMatch(/^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000$/);
    expect(await client().calls(call.sid).fetch()).toMatchObject({ status: 'completed', duration: '0' });
  });

  it('rings out (no-answer), reports busy and failed, with no voice request', async () => {
    twilioApi.outcomeFor('+972501110002', 'no-answer');
    const noAnswer = await dial('+972501110002');
    twilioApi.nextOutcome('busy');
    const busy = await dial('+972501110003');
    twilioApi.nextOutcome('failed');
    const failed = await dial('+972501110003');
    for (const sid of [noAnswer.sid, busy.sid, failed.sid]) await twilioApi.waitForCallback(isFinal(sid));

    expect(statusCallbacks(noAnswer.sid).map((r) => r.params.CallStatus)).toEqual(['initiated', 'ringing', 'no-answer']);
    expect(statusCallbacks(busy.sid).map((r) => r.params.CallStatus)).toEqual(['initiated', 'busy']);
    expect(statusCallbacks(failed.sid).map((r) => r.params.CallStatus)).toEqual(['initiated', 'failed']);
    expect(statusCallbacks(busy.sid)[1]?.params).toMatchObject({ CallDuration: '0', SipResponseCode: '486', SequenceNumber: '1' });
    expect(received.filter((r) => r.path === '/voice' && [noAnswer.sid, busy.sid, failed.sid].includes(r.params.CallSid ?? ''))).toEqual([]);
    expect((await client().calls(noAnswer.sid).fetch()).status).toBe('no-answer');
    // a per-number outcome stays; the next-call one was used up
    expect(twilioApi.placedCalls.slice(-3).map((p) => p.outcome)).toEqual(['no-answer', 'busy', 'failed']);
  });

  it('sends only the progress events asked for, but always the final status', async () => {
    twilioApi.nextOutcome('busy');
    const busy = await dial('+972501110004', { statusCallbackEvent: undefined });
    const answered = await dial('+972501110005', { statusCallbackEvent: ['answered'] });
    await twilioApi.waitForVoiceTwiml(answered.sid);
    await client().calls(answered.sid).update({ status: 'completed' });
    for (const sid of [busy.sid, answered.sid]) await twilioApi.waitForCallback(isFinal(sid));
    expect(statusCallbacks(busy.sid).map((r) => [r.params.CallStatus, r.params.SequenceNumber])).toEqual([['busy', '0']]);
    expect(statusCallbacks(answered.sid).map((r) => r.params.CallStatus)).toEqual(['in-progress', 'completed']);
  });

  it('runs inline Twiml when the create has no Url', async () => {
    const call = await client().calls.create({ to: '+972501110014', from: FROM, twiml: STREAM_TWIML, statusCallback: `${appUrl}/status` });
    expect(await twilioApi.waitForVoiceTwiml(call.sid)).toBe(STREAM_TWIML);
    expect(received.filter((r) => r.path === '/voice' && r.params.CallSid === call.sid)).toEqual([]);
    await client().calls(call.sid).update({ status: 'completed' });
    await twilioApi.waitForCallback(isFinal(call.sid));
    expect(statusCallbacks(call.sid).map((r) => r.params.CallStatus)).toEqual(['completed']);
  });

  it('answers an invalid number with 400 and code 21211, and a call without Url with 21205', async () => {
    const before = twilioApi.placedCalls.length;
    await expect(dial('050-111-0006')).rejects.toMatchObject({
      status: 400,
      code: 21211,
      message: "The 'To' number 050-111-0006 is not a valid phone number.",
      moreInfo: 'https://www.twilio.com/docs/errors/21211',
    });
    await expect(client().calls.create({ to: '+972501110006', from: FROM })).rejects.toMatchObject({ status: 400, code: 21205 });
    expect(twilioApi.placedCalls).toHaveLength(before);
  });

  it('synchronous AMD: silence until the verdict, then the voice URL with AnsweredBy and the real MachineDetectionDuration', async () => {
    twilioApi.amdFor(200, { greetingMs: 300 });
    const human = await dial('+972501110007', { machineDetection: 'Enable' });
    twilioApi.nextOutcome('machine');
    const machine = await dial('+972501110008', { machineDetection: 'Enable' });
    twilioApi.nextOutcome('machine');
    const beep = await dial('+972501110009', { machineDetection: 'DetectMessageEnd' });
    for (const sid of [machine.sid, beep.sid]) await twilioApi.waitForCallback(isFinal(sid));
    expect(await twilioApi.waitForVoiceTwiml(human.sid)).toBe(STREAM_TWIML);

    const voiceOf = (sid: string) => received.find((r) => r.path === '/voice' && r.params.CallSid === sid);
    // The duration is what really passed: the detection time, plus the greeting to its end.
    expect(voiceOf(human.sid)?.params).toMatchObject({ AnsweredBy: 'human' });
    expect(Number(voiceOf(human.sid)?.params.MachineDetectionDuration)).toBeGreaterThanOrEqual(200);
    expect(voiceOf(machine.sid)?.params.AnsweredBy).toBe('machine_start');
    expect(voiceOf(beep.sid)?.params.AnsweredBy).toBe('machine_end_beep');
    expect(Number(voiceOf(beep.sid)?.params.MachineDetectionDuration)).toBeGreaterThanOrEqual(500);
    // Answered first (no verdict yet), the voice URL only after detection.
    const order = twilioApi.callbacks.filter((c) => c.callSid === human.sid).map((c) => (c.kind === 'status' ? c.params.CallStatus : c.kind));
    expect(order).toEqual(['initiated', 'ringing', 'in-progress', 'voice']);
    expect(statusCallbacks(human.sid).find((r) => r.params.CallStatus === 'in-progress')?.params.AnsweredBy).toBeUndefined();
    // <Hangup/> ends the call at once: completed, with the verdict
    expect(statusCallbacks(machine.sid).map((r) => r.params.CallStatus)).toEqual(['initiated', 'ringing', 'in-progress', 'completed']);
    expect(statusCallbacks(machine.sid).at(-1)?.params).toMatchObject({ AnsweredBy: 'machine_start', CallStatus: 'completed' });
    expect((await client().calls(machine.sid).fetch()).answeredBy).toBe('machine_start');
    await client().calls(human.sid).update({ status: 'completed' });
    await twilioApi.waitForCallback(isFinal(human.sid));
  });

  it('with AsyncAmd, runs the TwiML at once and posts the verdict to AsyncAmdStatusCallback after detection', async () => {
    twilioApi.amdFor(200);
    twilioApi.nextOutcome('machine');
    const call = await dial('+972501110010', { machineDetection: 'Enable', asyncAmd: 'true', asyncAmdStatusCallback: `${appUrl}/amd` });
    expect(await twilioApi.waitForVoiceTwiml(call.sid)).toBe(STREAM_TWIML);
    await twilioApi.waitForCallback((c) => c.callSid === call.sid && c.kind === 'amd');
    expect(twilioApi.callbacks.filter((c) => c.callSid === call.sid).map((c) => c.kind)).toEqual(['status', 'status', 'status', 'voice', 'amd']);
    expect(received.find((r) => r.path === '/voice' && r.params.CallSid === call.sid)?.params.AnsweredBy).toBeUndefined();
    const amd = received.find((r) => r.path === '/amd' && r.params.CallSid === call.sid);
    expect(amd).toMatchObject({ signatureValid: true, params: { AccountSid: twilioApi.accountSid, CallSid: call.sid, AnsweredBy: 'machine_start' } });
    expect(Number(amd?.params.MachineDetectionDuration)).toBeGreaterThanOrEqual(200);
    await client().calls(call.sid).update({ status: 'completed' });
    await twilioApi.waitForCallback(isFinal(call.sid));
  });

  it('with AsyncAmd and DetectMessageEnd, a machine’s verdict waits for its greeting to end; a person’s does not', async () => {
    twilioApi.amdFor(100, { greetingMs: 400, messageEnd: 'silence' });
    try {
      const amdOptions = { machineDetection: 'DetectMessageEnd', asyncAmd: 'true', asyncAmdStatusCallback: `${appUrl}/amd` };
      const human = await dial('+972501110015', amdOptions);
      twilioApi.nextOutcome('machine');
      const machine = await dial('+972501110016', amdOptions);
      const amdOf = async (sid: string) => (await twilioApi.waitForCallback((c) => c.callSid === sid && c.kind === 'amd')).params;
      const [person, voicemail] = [await amdOf(human.sid), await amdOf(machine.sid)];
      expect(person.AnsweredBy).toBe('human');
      expect(voicemail.AnsweredBy).toBe('machine_end_silence');
      expect(Number(voicemail.MachineDetectionDuration)).toBeGreaterThanOrEqual(500);
      // The verdict may come too late: past MachineDetectionTimeout it is `unknown`.
      twilioApi.amdFor(100, { greetingMs: 60_000 });
      twilioApi.nextOutcome('machine');
      const long = await dial('+972501110017', { ...amdOptions, machineDetectionTimeout: 1 });
      expect((await amdOf(long.sid)).AnsweredBy).toBe('unknown');
      for (const sid of [human.sid, machine.sid, long.sid]) await client().calls(sid).update({ status: 'completed' });
    } finally {
      twilioApi.amdFor(3_000, { greetingMs: 10_000, messageEnd: 'beep' });
    }
  });

  it('runs TwiML replaced through the API: <Say>…<Hangup/> ends the call once spoken', async () => {
    const call = await dial('+972501110018');
    await twilioApi.waitForVoiceTwiml(call.sid);
    const leave = '<?xml version="1.0" encoding="UTF-8"?><Response><Say language="he-IL" voice="Google.he-IL-Standard-A">שלום</Say><Hangup/></Response>';
    await client().calls(call.sid).update({ twiml: leave });
    await twilioApi.waitForCallback(isFinal(call.sid));
    expect(twilioApi.placedCalls.find((p) => p.sid === call.sid)?.twimlUpdates).toEqual([leave]);
    expect(statusCallbacks(call.sid).at(-1)?.params).toMatchObject({ CallStatus: 'completed', SipResponseCode: '200' });
  });

  it('cancels a ringing call: canceled, and the voice URL is never fetched', async () => {
    twilioApi.ringFor(10_000);
    try {
      const call = await dial('+972501110011');
      await twilioApi.waitForCallback((c) => c.callSid === call.sid && c.params.CallStatus === 'ringing');
      expect(await client().calls(call.sid).update({ status: 'canceled' })).toMatchObject({ status: 'canceled' });
      await twilioApi.waitForCallback(isFinal(call.sid));
      expect(statusCallbacks(call.sid).map((r) => r.params.CallStatus)).toEqual(['initiated', 'ringing', 'canceled']);
      expect(twilioApi.callbacks.filter((c) => c.callSid === call.sid && c.kind === 'voice')).toEqual([]);
    } finally {
      twilioApi.ringFor(20);
    }
  });

  it('records with Record=true: RecordingUrl on completed, then a signed recording callback whose media downloads', async () => {
    const call = await dial('+972501110012', { record: true, recordingStatusCallback: `${appUrl}/recording` });
    await twilioApi.waitForVoiceTwiml(call.sid);
    await client().calls(call.sid).update({ status: 'completed' });
    const recordingCallback = await twilioApi.waitForCallback((c) => c.callSid === call.sid && c.kind === 'recording');
    const completed = statusCallbacks(call.sid).at(-1);
    expect(completed?.params.RecordingSid).toMatch(/^RE[0-9a-f]{32}$/);
    expect(recordingCallback.params).toMatchObject({ RecordingSid: completed?.params.RecordingSid, RecordingStatus: 'completed', RecordingSource: 'OutboundAPI' });
    expect(received.find((r) => r.path === '/recording')?.signatureValid).toBe(true);
    const authorization = `Basic ${Buffer.from(`${twilioApi.accountSid}:${twilioApi.authToken}`).toString('base64')}`;
    expect((await fetch(`${completed?.params.RecordingUrl}.wav`, { headers: { authorization } })).status).toBe(200);
  });

  it('signs for the public URL and delivers to the real address with routeOrigin', async () => {
    signedOrigin = () => 'https://callwatch.test';
    twilioApi.routeOrigin('https://callwatch.test', appUrl);
    try {
      twilioApi.nextOutcome('busy');
      const call = await client().calls.create({ to: '+972501110013', from: FROM, url: 'https://callwatch.test/voice', statusCallback: 'https://callwatch.test/status?job=42' });
      const final = await twilioApi.waitForCallback(isFinal(call.sid));
      expect(final).toMatchObject({ url: 'https://callwatch.test/status?job=42', status: 200 });
      expect(statusCallbacks(call.sid)).toMatchObject([{ signatureValid: true, params: { CallStatus: 'busy' } }]);
    } finally {
      signedOrigin = () => appUrl;
    }
  });
});
