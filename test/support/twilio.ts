import { sendTwilioWebhook, type WebhookResponse } from '../../src/sandbox/twilio-webhook.ts';

export { inboundCallParams, streamOf } from '../../src/sandbox/twilio-webhook.ts';

export const twilioAccountSid = `AC${'0'.repeat(31)}1`;
export const twilioAuthToken = 'test-twilio-auth-token';
/** Callwatch's public URL in tests: Twilio signs webhooks against it, whatever the real port. */
export const publicUrl = 'https://callwatch.test';

/**
 * Environment that points Callwatch at test doubles and a fixed public URL. The start-up
 * model check is off: OPENAI_BASE_URL stays OpenAI's own unless a test starts the REST
 * stand-in, and a test must not ask the internet; harnesses with the stand-in turn it on.
 */
export function callEnvironment(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    PUBLIC_URL: publicUrl,
    TWILIO_ACCOUNT_SID: twilioAccountSid,
    TWILIO_AUTH_TOKEN: twilioAuthToken,
    OPENAI_API_KEY: 'sk-test-key',
    OPENAI_CHECK_MODELS: 'false',
    ...overrides,
  };
}

/** A webhook to Callwatch at `appUrl`, signed for the test PUBLIC_URL and auth token. */
export function postTwilioWebhook(
  appUrl: string,
  path: string,
  params: Record<string, string>,
  options: { signature?: string | null } = {},
): Promise<WebhookResponse> {
  return sendTwilioWebhook({ appUrl, publicUrl, authToken: twilioAuthToken }, path, params, options);
}
