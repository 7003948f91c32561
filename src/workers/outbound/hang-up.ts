import type { JobHandler } from '../../core/queue.ts';
import type { Services } from '../../core/services.ts';
import { createTwilioClient } from '../../core/twilio-client.ts';

/**
 * The `outbound.hangup` job: ends the call of a canceled outbound job. `Status=completed`
 * ends a call whether it is queued, ringing or answered (`canceled` would leave a call
 * answered meanwhile up), so there is nothing to read first; a call already over is left
 * as it is.
 */
export function hangUpOutboundCall(services: Services): JobHandler<'outbound.hangup'> {
  const { accountSid, authToken, apiUrl } = services.config.twilio;
  const client = accountSid && authToken ? createTwilioClient({ accountSid, authToken, apiUrl, metrics: services.metrics }) : null;
  return async ({ callSid }, { logger }) => {
    if (!client) return void logger.warn('Twilio is not configured: cannot hang up a canceled outbound call');
    const call = await client.calls(callSid).update({ status: 'completed' });
    logger.info({ callSid, status: call.status }, 'canceled outbound call ended');
  };
}
