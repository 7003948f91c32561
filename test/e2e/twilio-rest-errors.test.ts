import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Metrics } from '../../src/core/metrics.ts';
import { createTwilioClient } from '../../src/core/twilio-client.ts';
import { startTwilioApiStandIn, type TwilioApiStandIn } from '../../src/sandbox/twilio-api.server.ts';

/**
 * Twilio REST requests that fail are counted in twilio_rest_errors_total by Twilio's error
 * code (from the official SDK's responses, against the Twilio REST stand-in).
 */
describe('twilio_rest_errors_total', () => {
  let twilioApi: TwilioApiStandIn;
  beforeAll(async () => {
    twilioApi = await startTwilioApiStandIn();
  });
  afterAll(() => twilioApi?.close());

  it('counts a 404 as 20404 and a wrong token as 20003, and nothing for a request that succeeds', async () => {
    const metrics = new Metrics();
    const client = createTwilioClient({ accountSid: twilioApi.accountSid, authToken: twilioApi.authToken, apiUrl: twilioApi.url, metrics });
    await expect(client.calls(`CA${'f'.repeat(32)}`).fetch()).rejects.toMatchObject({ status: 404, code: 20404 });
    twilioApi.addCall({ sid: `CA${'e'.repeat(32)}` });
    await client.calls(`CA${'e'.repeat(32)}`).fetch();
    const wrongToken = createTwilioClient({ accountSid: twilioApi.accountSid, authToken: 'x'.repeat(32), apiUrl: twilioApi.url, metrics });
    await expect(wrongToken.calls(`CA${'e'.repeat(32)}`).fetch()).rejects.toMatchObject({ status: 401 });

    expect(metrics.getLabeled('twilio_rest_errors_total', '20404')).toBe(1);
    expect(metrics.getLabeled('twilio_rest_errors_total', '20003')).toBe(1);
    expect(await metrics.render()).toMatch(/^callwatch_twilio_rest_errors_total\{code="20404"\} 1$/m);
  });

  it('counts a request that got no answer as network', async () => {
    const metrics = new Metrics();
    const stopped = await startTwilioApiStandIn();
    await stopped.close();
    const client = createTwilioClient({ accountSid: stopped.accountSid, authToken: stopped.authToken, apiUrl: stopped.url, metrics });
    await expect(client.calls(`CA${'f'.repeat(32)}`).fetch()).rejects.toThrow();
    expect(metrics.getLabeled('twilio_rest_errors_total', 'network')).toBe(1);
  });
});
