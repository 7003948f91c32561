import { transientFailure, type PipelineStepModule } from './step.ts';

const downloadTimeoutMs = 60_000;

/**
 * Step 1: fetch the call's recording from Twilio (`GET …/Recordings/{sid}.wav`, Basic auth
 * with the account's credentials). It is stored in `call_recordings` in the statement that
 * records the step, so a run that resumes at the transcription step finds it there. Already
 * stored → nothing to fetch. No recording (the business does not record, or Twilio reported
 * it absent or failed) → skipped, and the realtime transcript stands in for it.
 */
export const download: PipelineStepModule = {
  name: 'download',
  produces: [],
  async run(call, { config, signal, metrics }) {
    if (!call.recordingSid) return { outcome: 'skipped', reason: 'the call has no recording' };
    if (call.recordingStored) return { outcome: 'done' };

    const { accountSid, authToken, apiUrl } = config.twilio;
    if (!accountSid || !authToken) return { outcome: 'failed', error: 'TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are not set' };
    const url = `${apiUrl}/2010-04-01/Accounts/${accountSid}/Recordings/${call.recordingSid}.wav`;
    let response: Response;
    try {
      response = await fetch(url, {
        headers: { authorization: `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString('base64')}` },
        signal: AbortSignal.any([signal, AbortSignal.timeout(downloadTimeoutMs)]),
      });
    } catch (error) {
      // An abort is this side's (shutdown, a lapsed claim); a timeout or a refused connection is not.
      if (!signal.aborted) metrics.incrementLabeled('twilio_rest_errors_total', 'network');
      throw transientFailure('recording download', error);
    }
    if (!response.ok) {
      await response.body?.cancel();
      // The body is not read: the HTTP status stands for Twilio's code.
      metrics.incrementLabeled('twilio_rest_errors_total', String(response.status));
      const problem = `recording download: Twilio answered ${response.status}`;
      // 404 right after the callback can be Twilio still finishing the file: worth a retry.
      // Bad credentials or a recording Twilio will never have are not.
      if (response.status === 401 || response.status === 403) return { outcome: 'failed', error: `${problem} (check TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN)` };
      throw transientFailure(problem, new Error(response.statusText));
    }
    let audio: Buffer;
    try {
      audio = Buffer.from(await response.arrayBuffer());
    } catch (error) {
      throw transientFailure('recording download', error);
    }
    if (audio.length === 0) throw transientFailure('recording download', new Error('empty body'));
    return { outcome: 'done', recording: { audio, contentType: response.headers.get('content-type') ?? 'audio/x-wav' } };
  },
};
