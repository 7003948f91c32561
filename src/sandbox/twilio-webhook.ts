import twilio from 'twilio';

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
