import twilio from 'twilio';
import { describe, expect, it } from 'vitest';
import { Call } from '../../../src/entities/call.entity.ts';
import { businessNumber, sarahsNumber, useCallHarness } from '../../support/calls.ts';
import { inboundCallParams, publicUrl, twilioAccountSid, twilioAuthToken } from '../../support/twilio.ts';

/**
 * Threat: a webhook body that repeats a parameter name, signed over one of its values
 * (security review F8): the signature check and the handler could read different values.
 * Defence: a repeated name is refused (403) before anything is read or written.
 */

/** POSTs `body` to /twilio/voice with Twilio's signature over `signed`. */
async function postVoice(appUrl: string, signed: Record<string, string>, body: string): Promise<number> {
  const signature = twilio.getExpectedTwilioSignature(twilioAuthToken, `${publicUrl}/twilio/voice`, signed);
  const response = await fetch(`${appUrl}/twilio/voice`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
    body,
  });
  await response.text();
  return response.status;
}

describe('a Twilio webhook with a repeated parameter name', () => {
  const h = useCallHarness();

  it.each(['CallSid', 'To'])('is refused (403) when it repeats %s, and nothing is written', async (name) => {
    const callSid = `CA${name === 'To' ? 'b' : 'a'}${'0'.repeat(31)}`;
    const params = inboundCallParams({ accountSid: twilioAccountSid, callSid, from: sarahsNumber, to: businessNumber });
    const repeat = name === 'CallSid' ? `CA${'f'.repeat(32)}` : '+15005550006';
    const rejectedBefore = h.app.services.metrics.get('twilio_webhook_rejected_total');
    // Signed over the last value, as a URLSearchParams-to-object parse would read it.
    const body = `${new URLSearchParams({ [name]: repeat }).toString()}&${new URLSearchParams(params).toString()}`;

    expect(await postVoice(h.app.url, params, body)).toBe(403);
    expect(h.app.services.metrics.get('twilio_webhook_rejected_total') - rejectedBefore).toBe(1);
    expect(await h.app.services.orm.em.fork().count(Call, { callSid: { $in: [callSid, repeat] } })).toBe(0);

    // The same request without the repeat is Twilio's, and answered.
    expect(await postVoice(h.app.url, params, new URLSearchParams(params).toString())).toBe(200);
  });
});
