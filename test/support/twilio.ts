import twilio from 'twilio';

export const twilioAccountSid = `AC${'0'.repeat(31)}1`;
export const twilioAuthToken = 'test-twilio-auth-token';
/** Callwatch's public URL in tests: Twilio signs webhooks against it, whatever the real port. */
export const publicUrl = 'https://callwatch.test';

/** Environment that points Callwatch at test doubles and a fixed public URL. */
export function callEnvironment(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    PUBLIC_URL: publicUrl,
    TWILIO_ACCOUNT_SID: twilioAccountSid,
    TWILIO_AUTH_TOKEN: twilioAuthToken,
    OPENAI_API_KEY: 'sk-test-key',
    ...overrides,
  };
}

export interface WebhookResponse {
  status: number;
  body: string;
}

/**
 * POSTs a Twilio webhook to Callwatch at `appUrl`, signed the way Twilio signs it (over
 * PUBLIC_URL + path and the sorted form parameters). `signature` overrides the header.
 */
export async function postTwilioWebhook(
  appUrl: string,
  path: string,
  params: Record<string, string>,
  options: { signature?: string | null } = {},
): Promise<WebhookResponse> {
  const signature =
    options.signature === undefined ? twilio.getExpectedTwilioSignature(twilioAuthToken, `${publicUrl}${path}`, params) : options.signature;
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (signature !== null) headers['x-twilio-signature'] = signature;
  const response = await fetch(`${appUrl}${path}`, { method: 'POST', headers, body: new URLSearchParams(params).toString() });
  return { status: response.status, body: await response.text() };
}

/** The stream URL and token of a `<Connect><Stream>` TwiML answer. */
export function streamOf(twiml: string): { url: string; token: string } {
  const url = /<Stream url="([^"]+)"/.exec(twiml)?.[1];
  const token = /<Parameter name="token" value="([^"]+)"/.exec(twiml)?.[1];
  if (!url || !token) throw new Error(`no <Stream> with a token in: ${twiml}`);
  return { url, token };
}
