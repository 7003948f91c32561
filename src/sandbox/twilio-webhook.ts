import twilio from 'twilio';
import { rfc2822 } from './twilio-api.resources.ts';

/**
 * What Twilio does when someone dials a number: POST the signed voice webhook to Callwatch.
 * Used by the tests, the demo and the benchmarks — one place that knows how Twilio signs
 * (over PUBLIC_URL + path and the sorted form parameters) and what it sends.
 */

export interface TwilioWebhookTarget {
  /** Where Callwatch actually listens, e.g. http://127.0.0.1:PORT. */
  appUrl: string;
  /** Callwatch's PUBLIC_URL: what Twilio signs, whatever the real address. */
  publicUrl: string;
  authToken: string;
}

export interface WebhookResponse {
  status: number;
  body: string;
}

/** The parameters of Twilio's voice webhook for an inbound call. */
export function inboundCallParams(call: { accountSid: string; callSid: string; from: string; to: string }): Record<string, string> {
  return { AccountSid: call.accountSid, CallSid: call.callSid, From: call.from, To: call.to, Direction: 'inbound', CallStatus: 'ringing' };
}

/** Twilio's ErrorCode for a recording with no file: 16101 too short; 16102 (silent) is the other. */
const RECORDING_TOO_SHORT = 16101;

/**
 * The parameters of Twilio's RecordingStatusCallback for a recording started through the
 * Calls Recordings API. RecordingUrl has no extension, as Twilio sends it: append `.wav`
 * (or `.mp3`, `.json`) to fetch. `apiUrl` replaces `https://api.twilio.com`, e.g. with the
 * stand-in's URL. ErrorCode is 0 for a completed recording (as Twilio sends it) and 16101
 * for an absent one unless `errorCode` says otherwise; a failed one has it only when given.
 */
export function recordingCallbackParams(r: {
  accountSid: string;
  callSid: string;
  recordingSid: string;
  status: 'completed' | 'absent' | 'failed';
  durationSec?: number;
  channels?: 1 | 2;
  apiUrl?: string;
  errorCode?: number;
}): Record<string, string> {
  const durationSec = Math.round(r.durationSec ?? (r.status === 'completed' ? 1 : 0));
  const params: Record<string, string> = {
    AccountSid: r.accountSid,
    CallSid: r.callSid,
    RecordingSid: r.recordingSid,
    RecordingUrl: `${r.apiUrl ?? 'https://api.twilio.com'}/2010-04-01/Accounts/${r.accountSid}/Recordings/${r.recordingSid}`,
    RecordingStatus: r.status,
    RecordingDuration: String(durationSec),
    RecordingChannels: String(r.channels ?? 1),
    RecordingStartTime: rfc2822(new Date(Date.now() - durationSec * 1000)),
    RecordingSource: 'StartCallRecordingAPI',
    RecordingTrack: 'both',
  };
  const errorCode = r.errorCode ?? (r.status === 'completed' ? 0 : r.status === 'absent' ? RECORDING_TOO_SHORT : undefined);
  if (errorCode !== undefined) params.ErrorCode = String(errorCode);
  return params;
}

/** POSTs a webhook signed as Twilio signs it; `signature` overrides the header (null: none). */
export async function sendTwilioWebhook(
  target: TwilioWebhookTarget,
  path: string,
  params: Record<string, string>,
  options: { signature?: string | null } = {},
): Promise<WebhookResponse> {
  const signature =
    options.signature === undefined ? twilio.getExpectedTwilioSignature(target.authToken, `${target.publicUrl}${path}`, params) : options.signature;
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (signature !== null) headers['x-twilio-signature'] = signature;
  const response = await fetch(`${target.appUrl}${path}`, { method: 'POST', headers, body: new URLSearchParams(params).toString() });
  return { status: response.status, body: await response.text() };
}

/** The stream URL and token of a `<Connect><Stream>` TwiML answer. */
export function streamOf(twiml: string): { url: string; token: string } {
  const url = /<Stream url="([^"]+)"/.exec(twiml)?.[1];
  const token = /<Parameter name="token" value="([^"]+)"/.exec(twiml)?.[1];
  if (!url || !token) throw new Error(`no <Stream> with a token in: ${twiml}`);
  return { url, token };
}
