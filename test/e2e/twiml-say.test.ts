import twilio from 'twilio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTwilioClient } from '../../src/core/twilio-client.ts';
import { sayVoice } from '../../src/realtime/twilio-line/say-voice.ts';
import { startTwilioApiStandIn, type TwilioApiStandIn } from '../../src/sandbox/twilio-api.server.ts';
import { sayProblem } from '../../src/sandbox/twiml-say.ts';

/** TwiML `<Say>`: Callwatch's voice per language, and the Twilio stand-in's check of what a call runs. */
describe('<Say> voices', () => {
  it('gives every business language a voice Twilio lists for it (an unknown one English)', () => {
    for (const language of ['he', 'en', 'ar', 'ru', 'fr', 'es', 'de', 'he-IL', 'xx']) {
      const { voice, language: sayLanguage } = sayVoice(language);
      expect(sayProblem(voice, sayLanguage), `${language}: ${voice} / ${sayLanguage}`).toBeNull();
    }
    expect(sayVoice('he')).toEqual({ language: 'he-IL', voice: 'Google.he-IL-Standard-A' });
    expect(sayVoice('xx')).toEqual(sayVoice('en'));
  });

  it('knows which pairs Twilio refuses', () => {
    expect(sayProblem(null, 'he-IL')).toBe("voice 'man' (the default, no voice given) does not speak 'he-IL'");
    expect(sayProblem('Polly.Joanna', 'he-IL')).toBe("voice 'Polly.Joanna' does not speak 'he-IL'");
    expect(sayProblem('Google.he-IL-Wavenet-B', 'he-IL')).toBeNull();
    expect(sayProblem('Polly.Zeina', 'arb')).toBeNull();
    expect(sayProblem('Polly.Joanna-Neural', null)).toBeNull();
    expect(sayProblem(null, null)).toBeNull();
    expect(sayProblem('woman', 'fr')).toBeNull();
    expect(sayProblem('Polly.Nobody', 'en-US')).toBe("'Polly.Nobody' is not a Twilio voice");
  });
});

describe('Twilio REST stand-in: the <Say>s a call runs', () => {
  let twilioApi: TwilioApiStandIn;
  let client: ReturnType<typeof createTwilioClient>;

  beforeAll(async () => {
    twilioApi = await startTwilioApiStandIn();
    client = createTwilioClient({ accountSid: twilioApi.accountSid, authToken: twilioApi.authToken, apiUrl: twilioApi.url });
  });
  afterAll(() => twilioApi.close());

  const say = (attributes: Parameters<twilio.twiml.VoiceResponse['say']>[0], text: string) => {
    const response = new twilio.twiml.VoiceResponse();
    response.say(attributes, text);
    response.hangup();
    return response.toString();
  };

  it('raises 13511 for a call update whose <Say> voice cannot speak its language, 13520 for an empty one, nothing for a valid pair', async () => {
    const callSid = twilioApi.addCall({ sid: `CA${'1'.repeat(32)}` }).sid;
    await client.calls(callSid).update({ twiml: say({ language: 'he-IL' }, 'שלום') });
    expect(twilioApi.alerts).toEqual([
      expect.objectContaining({
        errorCode: '13511',
        logLevel: 'warning',
        resourceSid: callSid,
        alertText: "Say: Invalid voice value: voice 'man' (the default, no voice given) does not speak 'he-IL'",
        moreInfo: 'https://www.twilio.com/docs/api/errors/13511',
        say: { voice: null, language: 'he-IL', text: 'שלום' },
      }),
    ]);

    const other = twilioApi.addCall({ sid: `CA${'2'.repeat(32)}` }).sid;
    await client.calls(other).update({ twiml: say(sayVoice('he'), 'שלום') });
    await client.calls(other).update({ twiml: '<Response><Say voice="Polly.Joanna" language="en-US"> </Say></Response>' });
    expect(twilioApi.alerts.filter((alert) => alert.resourceSid === other).map((alert) => alert.errorCode)).toEqual(['13520']);
  });

  it('checks the TwiML an outbound call runs once answered', async () => {
    const call = await client.calls.create({ to: '+972501234567', from: '+97231234567', twiml: say({ language: 'ru-RU', voice: 'Polly.Joanna' }, 'Здравствуйте') });
    await twilioApi.waitForVoiceTwiml(call.sid);
    expect(twilioApi.alerts.filter((alert) => alert.resourceSid === call.sid)).toEqual([
      expect.objectContaining({ errorCode: '13511', alertText: "Say: Invalid voice value: voice 'Polly.Joanna' does not speak 'ru-RU'" }),
    ]);
  });
});
