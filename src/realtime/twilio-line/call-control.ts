import twilio from 'twilio';
import type { Config } from '../../core/config.ts';
import type { Metrics } from '../../core/metrics.ts';
import { createTwilioClient } from '../../core/twilio-client.ts';
import { sayVoice } from './say-voice.ts';

/**
 * What the agent does to the phone call itself, through Twilio's REST API (the media
 * stream cannot): hand it to a person, hang up, or say a last sentence and hang up.
 * Updating a call's TwiML ends its media stream, so each of these also ends the session.
 */
export interface CallControl {
  /** Dials `to` (E.164) and connects the caller to it. */
  transfer(callSid: string, to: string): Promise<void>;
  hangUp(callSid: string): Promise<void>;
  /** Says `text` with Twilio's voice for `language`, then hangs up. */
  sayAndHangUp(callSid: string, text: string, language: string): Promise<void>;
}

/** Twilio call control for the configured account; undefined without Twilio credentials. */
export function twilioCallControl(config: Config, metrics?: Metrics): CallControl | undefined {
  const { accountSid, authToken, apiUrl } = config.twilio;
  if (!accountSid || !authToken) return undefined;
  const client = createTwilioClient({ accountSid, authToken, apiUrl, metrics });
  return {
    async transfer(callSid, to) {
      const response = new twilio.twiml.VoiceResponse();
      response.dial({ answerOnBridge: true }, to);
      await client.calls(callSid).update({ twiml: response.toString() });
    },
    async hangUp(callSid) {
      await client.calls(callSid).update({ status: 'completed' });
    },
    async sayAndHangUp(callSid, text, language) {
      const response = new twilio.twiml.VoiceResponse();
      response.say(sayVoice(language), text);
      response.hangup();
      await client.calls(callSid).update({ twiml: response.toString() });
    },
  };
}

/** The apology a caller hears when the voice agent is lost for good, by language. */
const apologies: Record<string, string> = {
  he: 'מצטערים, יש לנו תקלה טכנית. נחזור אליך בהקדם. תודה ולהתראות.',
  en: 'We are sorry, we have a technical problem. We will call you back soon. Goodbye.',
};

/** The short apology for a technical problem, in `language` (English when there is none). */
export function technicalApology(language: string): string {
  return apologies[language] ?? apologies.en!;
}

/**
 * The voice agent is gone for good: the caller reaches a person when the business has a
 * transfer number, else hears a short apology and the call ends. Resolves to the number
 * the call went to, or null after an apology.
 */
export async function handOverOrApologise(control: CallControl, call: { callSid: string; settings: { transferNumber: string | null; language: string } }): Promise<string | null> {
  const { transferNumber, language } = call.settings;
  if (transferNumber) {
    await control.transfer(call.callSid, transferNumber);
    return transferNumber;
  }
  await control.sayAndHangUp(call.callSid, technicalApology(language), language);
  return null;
}
