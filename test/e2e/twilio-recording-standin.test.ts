import { createServer, type Server } from 'node:http';
import twilio from 'twilio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTwilioClient } from '../../src/core/twilio-client.ts';
import { closeServer, listenOnLoopback, readBody } from '../../src/sandbox/http.ts';
import { startTwilioApiStandIn, type TwilioApiStandIn } from '../../src/sandbox/twilio-api.server.ts';
import { recordingCallbackParams } from '../../src/sandbox/twilio-webhook.ts';
import { wavFile } from '../../src/sandbox/wav.ts';

describe('Twilio REST stand-in: recording download', () => {
  let twilioApi: TwilioApiStandIn;
  const callSid = 'CA' + 'b'.repeat(32);
  beforeAll(async () => {
    twilioApi = await startTwilioApiStandIn();
  });
  afterAll(() => twilioApi.close());

  function recordingUrl(recordingSid: string, extension = 'wav'): string {
    return `${twilioApi.url}/2010-04-01/Accounts/${twilioApi.accountSid}/Recordings/${recordingSid}.${extension}`;
  }

  async function download(url: string, authToken = twilioApi.authToken) {
    const authorization = `Basic ${Buffer.from(`${twilioApi.accountSid}:${authToken}`).toString('base64')}`;
    const response = await fetch(url, { headers: { authorization } });
    return { status: response.status, contentType: response.headers.get('content-type'), body: Buffer.from(await response.arrayBuffer()) };
  }

  it('serves a completed recording as a 16-bit PCM 8 kHz WAV with Basic auth', async () => {
    const recording = twilioApi.addRecording({ callSid });
    expect(recording).toMatchObject({ callSid, status: 'completed', channels: 1, durationSec: 1, accountSid: twilioApi.accountSid });
    expect(recording.sid).toMatch(/^RE[0-9a-f]{32}$/);
    const { status, contentType, body } = await download(recordingUrl(recording.sid));
    expect([status, contentType]).toEqual([200, 'audio/x-wav']);
    expect(body.length).toBe(44 + 8000 * 2);
    expect([body.toString('ascii', 0, 4), body.toString('ascii', 8, 12), body.toString('ascii', 36, 40)]).toEqual(['RIFF', 'WAVE', 'data']);
    expect(body.readUInt32LE(4)).toBe(body.length - 8);
    expect({ format: body.readUInt16LE(20), channels: body.readUInt16LE(22), sampleRate: body.readUInt32LE(24), bits: body.readUInt16LE(34) }).toEqual({
      format: 1,
      channels: 1,
      sampleRate: 8000,
      bits: 16,
    });
    expect(twilioApi.requests.at(-1)).toEqual({
      method: 'GET',
      path: `/2010-04-01/Accounts/${twilioApi.accountSid}/Recordings/${recording.sid}.wav`,
      params: {},
      authAccountSid: twilioApi.accountSid,
      status: 200,
      at: expect.any(Date),
    });
  });

  it('serves a dual-channel recording and audio given to addRecording byte for byte', async () => {
    const dual = twilioApi.addRecording({ callSid, channels: 2, durationSec: 2 });
    const dualWav = await download(recordingUrl(dual.sid));
    expect([dualWav.body.length, dualWav.body.readUInt16LE(22), dualWav.body.readUInt32LE(28)]).toEqual([44 + 2 * 8000 * 2 * 2, 2, 8000 * 4]);

    const audio = wavFile(Int16Array.from([0, 1000, -1000, 32767, -32768]), { sampleRate: 8000, channels: 1 });
    const given = twilioApi.addRecording({ callSid, audio });
    expect(given.durationSec).toBeCloseTo(5 / 8000);
    const { body } = await download(recordingUrl(given.sid));
    expect(body.equals(audio)).toBe(true);
    expect([body.readInt16LE(44 + 2), body.readInt16LE(44 + 8)]).toEqual([1000, -32768]);
  });

  it('returns the recording resource at .json, also through the official SDK', async () => {
    const recording = twilioApi.addRecording({ callSid, durationSec: 42, channels: 2 });
    const json = await download(recordingUrl(recording.sid, 'json'));
    expect(json.status).toBe(200);
    expect(JSON.parse(json.body.toString('utf8'))).toMatchObject({ sid: recording.sid, call_sid: callSid, status: 'completed', duration: '42', channels: 2 });
    const client = createTwilioClient({ accountSid: twilioApi.accountSid, authToken: twilioApi.authToken, apiUrl: twilioApi.url });
    expect(await client.recordings(recording.sid).fetch()).toMatchObject({ sid: recording.sid, callSid, status: 'completed', duration: '42' });
  });

  it('answers a wrong auth token with 401 and an unknown, unfinished or MP3 recording with 404', async () => {
    const recording = twilioApi.addRecording({ callSid });
    const unauthorized = await download(recordingUrl(recording.sid), 'wrong-token');
    expect(unauthorized.status).toBe(401);
    expect(JSON.parse(unauthorized.body.toString('utf8'))).toMatchObject({ code: 20003, status: 401 });

    const inProgress = twilioApi.addRecording({ callSid, status: 'in-progress' });
    for (const url of [recordingUrl('RE' + '0'.repeat(32)), recordingUrl(inProgress.sid), recordingUrl(recording.sid, 'mp3')]) {
      const missing = await download(url);
      expect(missing.status).toBe(404);
      expect(JSON.parse(missing.body.toString('utf8'))).toMatchObject({ code: 20404, status: 404, more_info: 'https://www.twilio.com/docs/errors/20404' });
    }
    expect(twilioApi.downloads(recording.sid)).toBe(0);
    expect(twilioApi.downloads(inProgress.sid)).toBe(0);
  });

  it('counts successful downloads only, and failNext applies to a download', async () => {
    const recording = twilioApi.addRecording({ callSid });
    expect(twilioApi.downloads(recording.sid)).toBe(0);
    twilioApi.failNext(503);
    const failed = await download(recordingUrl(recording.sid));
    expect(failed.status).toBe(503);
    expect(JSON.parse(failed.body.toString('utf8'))).toMatchObject({ code: 20503, status: 503 });
    expect(twilioApi.downloads(recording.sid)).toBe(0);
    expect((await download(recordingUrl(recording.sid))).status).toBe(200);
    expect((await download(recordingUrl(recording.sid))).status).toBe(200);
    expect(twilioApi.downloads(recording.sid)).toBe(2);
    expect(twilioApi.requests.slice(-3).map((request) => [request.method, request.status])).toEqual([
      ['GET', 503],
      ['GET', 200],
      ['GET', 200],
    ]);
  });

  it('deletes a recording through the official SDK (204), after which it is gone (404, code 20404); failNext fails a delete once', async () => {
    const client = createTwilioClient({ accountSid: twilioApi.accountSid, authToken: twilioApi.authToken, apiUrl: twilioApi.url });
    const recording = twilioApi.addRecording({ callSid });
    twilioApi.failNext(500);
    await expect(client.recordings(recording.sid).remove()).rejects.toMatchObject({ status: 500, code: 20500 });
    expect(twilioApi.deletedRecordings).not.toContain(recording.sid);

    expect(await client.recordings(recording.sid).remove()).toBe(true);
    expect(twilioApi.requests.at(-1)).toMatchObject({ method: 'DELETE', path: `/2010-04-01/Accounts/${twilioApi.accountSid}/Recordings/${recording.sid}.json`, status: 204 });
    expect(twilioApi.deletedRecordings).toContain(recording.sid);
    expect(twilioApi.recordings.some((kept) => kept.sid === recording.sid)).toBe(false);
    expect((await download(recordingUrl(recording.sid))).status).toBe(404);
    await expect(client.recordings(recording.sid).remove()).rejects.toMatchObject({ status: 404, code: 20404 });
  });

  it('builds the RecordingStatusCallback parameters whose RecordingUrl + .wav downloads', async () => {
    const recording = twilioApi.addRecording({ callSid, channels: 2, durationSec: 3 });
    const params = recordingCallbackParams({
      accountSid: twilioApi.accountSid,
      callSid,
      recordingSid: recording.sid,
      status: 'completed',
      durationSec: 3,
      channels: 2,
      apiUrl: twilioApi.url,
    });
    expect(params).toMatchObject({
      AccountSid: twilioApi.accountSid,
      CallSid: callSid,
      RecordingSid: recording.sid,
      RecordingUrl: `${twilioApi.url}/2010-04-01/Accounts/${twilioApi.accountSid}/Recordings/${recording.sid}`,
      RecordingStatus: 'completed',
      RecordingDuration: '3',
      RecordingChannels: '2',
      RecordingSource: 'StartCallRecordingAPI',
      RecordingTrack: 'both',
      ErrorCode: '0',
    });
    expect(params.RecordingStartTime).toMatch(/^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000$/);
    expect((await download(`${params.RecordingUrl}.wav`)).status).toBe(200);

    const absent = recordingCallbackParams({ accountSid: twilioApi.accountSid, callSid, recordingSid: recording.sid, status: 'absent' });
    expect(absent).toMatchObject({ RecordingStatus: 'absent', RecordingDuration: '0', ErrorCode: '16101' });
    expect(absent.RecordingUrl).toMatch(/^https:\/\/api\.twilio\.com\/2010-04-01\/Accounts\/AC[0-9a-f]{32}\/Recordings\/RE[0-9a-f]{32}$/);
  });
});

/** One recording callback the application side received, checked as a Twilio webhook. */
interface ReceivedCallback {
  params: Record<string, string>;
  signatureValid: boolean;
}

describe('Twilio REST stand-in: the life of an API-started recording', () => {
  let twilioApi: TwilioApiStandIn;
  let app: Server;
  let appUrl: string;
  const received: ReceivedCallback[] = [];
  /** What the application answers the next recording callback; 204 after it. */
  let nextAnswer: { status: number } | undefined;
  let seq = 0;

  beforeAll(async () => {
    twilioApi = await startTwilioApiStandIn({ recordingProcessingMs: 20 });
    app = createServer(async (req, res) => {
      const params = Object.fromEntries(new URLSearchParams((await readBody(req)).toString('utf8')));
      const signature = String(req.headers['x-twilio-signature'] ?? '');
      received.push({ params, signatureValid: twilio.validateRequest(twilioApi.authToken, signature, `${appUrl}${req.url ?? '/'}`, params) });
      const answer = nextAnswer ?? { status: 204 };
      nextAnswer = undefined;
      res.writeHead(answer.status).end();
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

  /** A fresh in-progress inbound call. */
  function liveCall(): string {
    const sid = `CA${(++seq).toString(16).padStart(32, 'c')}`;
    twilioApi.addCall({ sid });
    return sid;
  }

  function startRecording(callSid: string, events: string[] = ['completed', 'absent']) {
    return client().calls(callSid).recordings.create({ recordingStatusCallback: `${appUrl}/recording`, recordingStatusCallbackEvent: events, recordingChannels: 'dual' });
  }

  /** As if the recording had started `seconds` ago: a call lasts that long without the test waiting. */
  function recordedFor(recordingSid: string, seconds: number): void {
    const recording = twilioApi.recordings.find((r) => r.sid === recordingSid);
    if (!recording) throw new Error(`no recording ${recordingSid}`);
    recording.createdAt = new Date(Date.now() - seconds * 1000);
  }

  it('stays in-progress while the call lasts, is processing once the caller hangs up, then completes with a dual-channel WAV and one signed callback', async () => {
    const callSid = liveCall();
    const recording = await startRecording(callSid);
    expect(recording.status).toBe('in-progress');
    expect((await client().recordings(recording.sid).fetch()).duration).toBe('-1');
    recordedFor(recording.sid, 1.2);
    twilioApi.hangUp(callSid);
    expect(twilioApi.calls.get(callSid)).toMatchObject({ status: 'completed', endedAt: expect.any(Date) });
    expect((await client().recordings(recording.sid).fetch()).status).toBe('processing');

    const callback = await twilioApi.waitForCallback((c) => c.callSid === callSid && c.kind === 'recording');
    expect(callback).toMatchObject({ method: 'POST', url: `${appUrl}/recording`, status: 204 });
    expect(callback.params).toMatchObject({
      AccountSid: twilioApi.accountSid,
      CallSid: callSid,
      RecordingSid: recording.sid,
      RecordingStatus: 'completed',
      RecordingDuration: '1',
      RecordingChannels: '2',
      RecordingSource: 'StartCallRecordingAPI',
      RecordingUrl: `${twilioApi.url}/2010-04-01/Accounts/${twilioApi.accountSid}/Recordings/${recording.sid}`,
      ErrorCode: '0',
    });
    expect(received.filter((r) => r.params.RecordingSid === recording.sid)).toEqual([{ params: callback.params, signatureValid: true }]);
    const wav = await fetch(`${callback.params.RecordingUrl}.wav`, { headers: { authorization: basicAuth(twilioApi) } });
    const body = Buffer.from(await wav.arrayBuffer());
    expect({ status: wav.status, channels: body.readUInt16LE(22), sampleRate: body.readUInt32LE(24), bits: body.readUInt16LE(34), bytes: body.length }).toEqual({
      status: 200,
      channels: 2,
      sampleRate: 8000,
      bits: 16,
      bytes: 44 + 8000 * 2 * 2,
    });
    expect(await client().recordings(recording.sid).fetch()).toMatchObject({ status: 'completed', duration: '1' });
  });

  it('holds the audio a test gives, and ends on a REST hang-up or on TwiML that hangs up', async () => {
    const audio = wavFile(Int16Array.from({ length: 16_000 * 2 }, (_, i) => (i % 2 === 0 ? 1000 : -1000)), { sampleRate: 8000, channels: 2 });
    const byStatus = liveCall();
    twilioApi.recordingAudio(byStatus, audio);
    const first = await startRecording(byStatus);
    await client().calls(byStatus).update({ status: 'completed' });
    const completed = await twilioApi.waitForRecording((r) => r.sid === first.sid && r.status === 'completed');
    expect(completed.durationSec).toBe(2);
    const wav = await fetch(`${twilioApi.url}/2010-04-01/Accounts/${twilioApi.accountSid}/Recordings/${first.sid}.wav`, { headers: { authorization: basicAuth(twilioApi) } });
    expect(Buffer.from(await wav.arrayBuffer()).equals(audio)).toBe(true);

    const byTwiml = liveCall();
    const second = await startRecording(byTwiml);
    recordedFor(second.sid, 3);
    const answered = await client().calls(byTwiml).update({ twiml: '<Response><Say>להתראות</Say><Hangup/></Response>' });
    expect(answered.status).toBe('in-progress'); // the TwiML runs after the answer
    // The recording goes on while Twilio says the goodbye (7 characters, about half a second).
    const spoken = await twilioApi.waitForRecording((r) => r.sid === second.sid && r.status === 'completed');
    expect(spoken.durationSec).toBeGreaterThanOrEqual(3);
    expect(spoken.durationSec).toBeLessThanOrEqual(4);
    expect(twilioApi.calls.get(byTwiml)?.status).toBe('completed');
  });

  it('reports a recording under a second absent, with no media, to the absent event only when asked', async () => {
    const callSid = liveCall();
    const recording = await startRecording(callSid);
    twilioApi.hangUp(callSid);
    const callback = await twilioApi.waitForCallback((c) => c.callSid === callSid && c.kind === 'recording');
    expect(callback.params).toMatchObject({ RecordingSid: recording.sid, RecordingStatus: 'absent', RecordingDuration: '0', ErrorCode: '16101' });
    const wav = await fetch(`${twilioApi.url}/2010-04-01/Accounts/${twilioApi.accountSid}/Recordings/${recording.sid}.wav`, { headers: { authorization: basicAuth(twilioApi) } });
    expect(wav.status).toBe(404);

    const unasked = liveCall();
    const silent = await startRecording(unasked, ['completed']);
    twilioApi.hangUp(unasked);
    await twilioApi.waitForRecording((r) => r.sid === silent.sid && r.status === 'absent');
    expect(twilioApi.callbacks.filter((c) => c.callSid === unasked)).toEqual([]);
  });

  it('loses a callback when told, and never retries one the application failed', async () => {
    const lostCall = liveCall();
    const lost = await startRecording(lostCall);
    twilioApi.loseNextRecordingCallback();
    recordedFor(lost.sid, 2);
    twilioApi.hangUp(lostCall);
    await twilioApi.waitForRecording((r) => r.sid === lost.sid && r.status === 'completed');
    expect(twilioApi.lostRecordingCallbacks).toContain(lost.sid);

    const failedCall = liveCall();
    const failed = await startRecording(failedCall);
    nextAnswer = { status: 500 };
    recordedFor(failed.sid, 2);
    twilioApi.hangUp(failedCall);
    expect((await twilioApi.waitForCallback((c) => c.callSid === failedCall && c.kind === 'recording')).status).toBe(500);

    // The next recording's callback comes through: the failed one was not retried meanwhile.
    const laterCall = liveCall();
    recordedFor((await startRecording(laterCall)).sid, 2);
    twilioApi.hangUp(laterCall);
    await twilioApi.waitForCallback((c) => c.callSid === laterCall && c.kind === 'recording');
    expect(received.filter((r) => r.params.RecordingSid === lost.sid)).toEqual([]);
    expect(received.filter((r) => r.params.RecordingSid === failed.sid)).toHaveLength(1);
    expect(twilioApi.callbacks.filter((c) => c.callSid === lostCall || c.callSid === failedCall)).toHaveLength(1);
  });

  it('lists a call\'s recordings, newest first, in Twilio\'s page shape, per call and account-wide by CallSid, through the SDK', async () => {
    const callSid = liveCall();
    const older = await startRecording(callSid);
    const newer = await startRecording(callSid);
    const other = liveCall();
    await startRecording(other);

    const page = await fetch(`${twilioApi.url}/2010-04-01/Accounts/${twilioApi.accountSid}/Calls/${callSid}/Recordings.json?PageSize=1`, { headers: { authorization: basicAuth(twilioApi) } });
    const json = (await page.json()) as Record<string, unknown> & { recordings: { sid: string }[] };
    const path = `/2010-04-01/Accounts/${twilioApi.accountSid}/Calls/${callSid}/Recordings.json`;
    expect(json).toMatchObject({
      page: 0,
      page_size: 1,
      start: 0,
      end: 0,
      uri: `${path}?PageSize=1&Page=0`,
      first_page_uri: `${path}?PageSize=1&Page=0`,
      next_page_uri: `${path}?PageSize=1&Page=1`,
      previous_page_uri: null,
    });
    expect(json.recordings.map((r) => r.sid)).toEqual([newer.sid]);

    // The SDK follows next_page_uri to the end.
    expect((await client().calls(callSid).recordings.list({ pageSize: 1 })).map((r) => [r.sid, r.status, r.callSid])).toEqual([
      [newer.sid, 'in-progress', callSid],
      [older.sid, 'in-progress', callSid],
    ]);
    expect((await client().recordings.list({ callSid })).map((r) => r.sid)).toEqual([newer.sid, older.sid]);
    expect(await client().recordings.list({ callSid: `CA${'d'.repeat(32)}` })).toEqual([]);
    const listed = twilioApi.requests.filter((r) => r.method === 'GET' && r.path.endsWith('/Recordings.json'));
    expect(listed.at(-2)?.params).toMatchObject({ CallSid: callSid });
  });
});

function basicAuth(twilioApi: TwilioApiStandIn): string {
  return `Basic ${Buffer.from(`${twilioApi.accountSid}:${twilioApi.authToken}`).toString('base64')}`;
}
