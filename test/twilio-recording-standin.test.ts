import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTwilioClient } from '../src/core/twilio-client.ts';
import { startTwilioApiStandIn, type TwilioApiStandIn } from '../src/sandbox/twilio-api.server.ts';
import { recordingCallbackParams } from '../src/sandbox/twilio-webhook.ts';
import { wavFile } from '../src/sandbox/wav.ts';

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
