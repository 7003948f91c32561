import type { Config } from '../../core/config.ts';
import type { Metrics } from '../../core/metrics.ts';
import { createTwilioClient } from '../../core/twilio-client.ts';

/**
 * Starts Twilio's recording of a call through the REST API, with Twilio's recording status
 * callback pointing at /twilio/recording (which starts the post-call pipeline). Called when
 * the media stream starts: Twilio records only calls in progress, and at the voice webhook
 * an inbound call is still ringing. Undefined when Twilio credentials are not configured.
 */
export function twilioRecorder(config: Config, metrics?: Metrics): ((callSid: string) => Promise<void>) | undefined {
  const { accountSid, authToken, apiUrl } = config.twilio;
  if (!accountSid || !authToken) return undefined;
  const client = createTwilioClient({ accountSid, authToken, apiUrl, metrics });
  return async (callSid) => {
    await client.calls(callSid).recordings.create({
      recordingStatusCallback: `${config.publicUrl}/twilio/recording`,
      recordingStatusCallbackEvent: ['completed', 'absent'],
      recordingChannels: 'dual',
    });
  };
}
