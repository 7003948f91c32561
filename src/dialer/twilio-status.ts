import type { Services } from '../core/services.ts';
import type { CallStatus } from '../entities/call.entity.ts';
import { sql } from '../entities/sql.ts';
import { markAnswered, notePlacedCall } from './dial-attempts.ts';
import { publishOutboundJob, settleAttempt } from './settlement.ts';

/**
 * Twilio's status callbacks, read for the dialer: what each status of an outbound call means
 * for its attempt (realtime/twilio-line/twilio-webhooks.ts receives them and calls here).
 */

/** AMD's verdicts for anything but a person (`unknown` is not one: the agent talks on). */
export function isMachine(answeredBy: string | null): boolean {
  return answeredBy !== null && (answeredBy.startsWith('machine') || answeredBy === 'fax');
}

/**
 * What a status callback means for the outbound job: answered → in progress; a final
 * status settles the attempt — completed is a conversation unless a machine answered;
 * busy, no-answer and failed are retried per the business's policy. `canceled` is the
 * dialer's own doing (the job was canceled), nothing to settle.
 */
export async function settleOutboundStatus(services: Services, jobId: string, callSid: string, status: CallStatus, answeredBy: string | null): Promise<void> {
  const em = services.orm.em.fork();
  let job = null;
  if (status === 'initiated' || status === 'ringing') await notePlacedCall(em, jobId, callSid);
  else if (status === 'in-progress') job = await markAnswered(em, jobId, callSid);
  else if (status === 'completed' || status === 'busy' || status === 'no-answer' || status === 'failed') {
    const machine = isMachine(answeredBy) || isMachine((await sql(em).selectFrom('Call').select('answeredBy').where('callSid', '=', callSid).executeTakeFirst())?.answeredBy ?? null);
    const outcome = status === 'completed' ? (machine ? 'voicemail' : 'answered') : status;
    job = await settleAttempt(em, services.queue, { jobId, callSid, outcome, error: status === 'failed' ? 'Twilio could not connect the call' : null });
  }
  if (job) publishOutboundJob(services.bus, job);
}
