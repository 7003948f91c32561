import { setTimeout as sleep } from 'node:timers/promises';
import { describeError } from '../../core/errors.ts';
import type { JobHandler } from '../../core/queue.ts';
import type { Services } from '../../core/services.ts';
import { createTwilioClient } from '../../core/twilio-client.ts';
import { claimDialAttempt, recordPlacedCall, releaseClaim, reserveDialSlot, stillDialing } from '../../dialer/dial-attempts.ts';
import { publishOutboundJob, settleAttempt } from '../../dialer/settlement.ts';

/**
 * The `outbound.dial` job: one attempt of an outbound call. The attempt is claimed first
 * (calling hours, the business's free lines — dialer/dial-attempts.ts), then waits
 * for its slot in the global calls-per-second budget, then Twilio places the call with the
 * voice and status URLs naming the job, and asynchronous answering-machine detection on. Twilio's
 * status callback settles the attempt (realtime/twilio-webhooks.ts).
 *
 * A number the business may not dial (premium rate, a country it does not allow —
 * core/dialable-numbers.ts) fails the job before it takes a line, with the reason and no
 * retry: it is checked again here because the lead or the settings may have changed since
 * the call was scheduled. Twilio refusing the call outright (an invalid number, a number not allowed) fails the job
 * with Twilio's reason and no retry — trying again would fail the same way. A network
 * failure or a Twilio 5xx is an attempt that did not reach the lead, retried per policy.
 */
/** The longest a claimed attempt waits for its calls-per-second slot before it gives the line back. */
const maxPaceWaitMs = 20_000;

export function dialOutboundCall(services: Services): JobHandler<'outbound.dial'> {
  const { config, bus } = services;
  const { accountSid, authToken, apiUrl } = config.twilio;
  const twilio = accountSid && authToken ? createTwilioClient({ accountSid, authToken, apiUrl, metrics: services.metrics }) : null;
  return async ({ outboundJobId }, { logger }) => {
    const em = services.orm.em.fork();
    const decision = await claimDialAttempt(em, services.queue, outboundJobId);
    if (decision.action === 'skip') return void logger.debug({ reason: decision.reason }, 'outbound dial skipped');
    if (decision.action === 'refused') {
      // A refusal is final: failed with its reason, never retried.
      publishOutboundJob(bus, decision.job);
      return void logger.warn({ reason: decision.reason }, 'outbound dial refused: the number may not be dialed');
    }
    if (decision.action !== 'dial') {
      if (decision.action === 'closed' || decision.reason === 'calling hours') publishOutboundJob(bus, decision.job);
      return void logger.debug({ decision: decision.action, at: decision.action === 'later' ? decision.at : undefined }, 'outbound dial deferred');
    }
    const { job, to, from, voicemailMessage } = decision;
    publishOutboundJob(bus, job);

    const fail = async (error: string, retryable: boolean) => {
      const settled = await settleAttempt(em, services.queue, { jobId: job.id, callSid: null, outcome: 'failed', error, retryable });
      if (settled) publishOutboundJob(bus, settled);
    };
    if (!twilio) return fail('Twilio is not configured (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN)', false);
    if (!from) return fail('the business has no phone number to call from', false);

    try {
      const slot = await reserveDialSlot(em, config.twilio.callsPerSecond);
      const waitMs = slot.getTime() - Date.now();
      // Holding a line (and a worker) for long is worse than asking again at the slot.
      if (waitMs > maxPaceWaitMs) return await releaseClaim(em, services.queue, job.id, slot);
      if (waitMs > 0) await sleep(waitMs);
      // Canceled while it waited for its slot: the line is free again, nothing to hang up.
      if (!(await stillDialing(em, job.id))) return;
    } catch (error) {
      // The claimed line must not stay taken by an attempt that never dialed.
      logger.error({ err: describeError(error) }, 'outbound dial failed before placing the call: giving the line back');
      return releaseClaim(em, services.queue, job.id, new Date(Date.now() + 5_000));
    }
    const query = `?outboundJob=${job.id}`;
    let callSid: string;
    try {
      const call = await twilio.calls.create({
        to,
        from,
        url: `${config.publicUrl}/twilio/voice${query}`,
        statusCallback: `${config.publicUrl}/twilio/status${query}`,
        statusCallbackEvent: ['initiated', 'ringing', 'answered', 'completed'],
        statusCallbackMethod: 'POST',
        // Asynchronous AMD: the voice URL connects the agent at answer, so a person hears it at
        // once instead of seconds of detection silence; the verdict comes to /twilio/amd while
        // the call runs. A machine counts as no answer. Waiting for its greeting's end
        // (DetectMessageEnd) is needed only to leave a message after the beep.
        machineDetection: voicemailMessage ? 'DetectMessageEnd' : 'Enable',
        asyncAmd: 'true',
        asyncAmdStatusCallback: `${config.publicUrl}/twilio/amd${query}`,
        asyncAmdStatusCallbackMethod: 'POST',
        timeout: 30,
      });
      callSid = call.sid;
    } catch (error) {
      const refusal = twilioRefusal(error);
      logger.warn({ refusal, status: refusal ? undefined : String(error) }, 'twilio did not place the outbound call');
      return fail(refusal ?? `Twilio could not be reached: ${error instanceof Error ? error.message : String(error)}`, refusal === null);
    }
    const placed = await recordPlacedCall(em, job, { callSid, from, to });
    logger.info({ callSid, attempt: job.attempts }, 'outbound call placed');
    // Canceled while Twilio was placing it: the cancel could not name the call yet.
    if (placed.status === 'canceled') await services.queue.send('outbound.hangup', { callSid });
    publishOutboundJob(bus, placed);
  };
}

/** Twilio's answer when it refused the request itself (4xx): "Twilio 21211: …"; null for anything else. */
function twilioRefusal(error: unknown): string | null {
  if (typeof error !== 'object' || error === null || !('status' in error)) return null;
  const status = Number(error.status);
  if (!(status >= 400 && status < 500) || status === 429) return null;
  const code = 'code' in error ? String(error.code) : String(status);
  const message = error instanceof Error ? error.message : '';
  return `Twilio ${code}: ${message}`.trim();
}
