import { randomUUID } from 'node:crypto';
import type { AnsweringMachineCommand, SupervisorCommandResult } from '../../core/events.ts';
import { describeError } from '../../core/errors.ts';
import type { Services } from '../../core/services.ts';
import { isMachine } from '../../dialer/twilio-status.ts';
import { noteAnsweredBy } from '../../entities/call-record.ts';
import { sql } from '../../entities/sql.ts';
import type { CallControl } from './call-control.ts';

/**
 * Twilio's asynchronous answering-machine detection (`/twilio/amd`). Outbound calls connect
 * to the agent at once, so a person hears it without waiting for detection; the verdict comes
 * seconds later, while the call runs. It is recorded on the call (`answeredBy`, which makes
 * the attempt settle as voicemail). A machine is then left the business's voicemail message
 * after its beep, or hung up on, by the session that holds the call, so the call ends with
 * its own reason (`voicemail left`, `answering machine`); with no session to do it (the
 * stream has not started, or the call lives nowhere) this instance does it itself.
 */

/**
 * How long the verdict waits for the session holding the call. A live session answers in a
 * REST round trip; past this, none holds the call. Well inside Twilio's 15 s webhook limit.
 */
const sessionAnswerTimeoutMs = 2_000;

/**
 * A voicemail message is left only once the machine's greeting has ended (DetectMessageEnd's
 * `machine_end_*`); said at `machine_start` it would go unheard, over the greeting.
 */
function afterTheBeep(answeredBy: string): boolean {
  return answeredBy.startsWith('machine_end_');
}

/** Records AMD's verdict on the call and, for a machine, has the call ended; never throws for Twilio's sake. */
export async function handleAmdVerdict(services: Services, control: CallControl | undefined, callSid: string, answeredBy: string): Promise<void> {
  const log = services.logger.child({ callSid });
  const em = services.orm.em.fork();
  const call = await noteAnsweredBy(em, callSid, answeredBy);
  if (!call) return void log.warn({ answeredBy }, 'AMD verdict for a call Callwatch does not know');
  if (!isMachine(answeredBy)) return void log.info({ answeredBy }, 'AMD: not a machine, the call goes on');

  const settings = await sql(em).selectFrom('BusinessSettings').select(['voicemailMessage', 'language']).where('business', '=', call.business).executeTakeFirst();
  const voicemail = settings?.voicemailMessage && afterTheBeep(answeredBy) ? { text: settings.voicemailMessage, language: settings.language } : null;
  const command: AnsweringMachineCommand = { requestId: randomUUID(), action: 'answering-machine', answeredBy, voicemail };
  const result = await askTheSession(services, call.id, command);
  if (result?.acted) return void log.info({ answeredBy, voicemail: voicemail !== null }, 'AMD: a machine answered; the session ended the call');

  // No session holds the call (or it could not act): end it from here.
  if (!control) return void log.warn({ answeredBy }, 'AMD: a machine answered, but Twilio is not configured to end the call');
  try {
    if (voicemail) await control.sayAndHangUp(callSid, voicemail.text, voicemail.language);
    else await control.hangUp(callSid);
    log.info({ answeredBy, voicemail: voicemail !== null, session: result?.error ?? 'none answered' }, 'AMD: a machine answered; ended the call');
  } catch (error) {
    // Most often the call ended meanwhile (Twilio 21220): nothing is left to do.
    log.warn({ answeredBy, err: describeError(error) }, 'AMD: could not end the call a machine answered');
  }
}

/** Sends the verdict to the session holding the call, wherever it is; null when none answers in time. */
async function askTheSession(services: Services, callId: string, command: AnsweringMachineCommand): Promise<SupervisorCommandResult | null> {
  const { bus } = services;
  if (!bus.available()) return null;
  const answers = bus.subscribe('call:command-results', command.requestId)[Symbol.asyncIterator]();
  let timer: NodeJS.Timeout | undefined;
  try {
    // The answer subscription is in place before the command goes out.
    const answer = answers.next();
    bus.publish('call:commands', callId, command);
    const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), sessionAnswerTimeoutMs)));
    const result = await Promise.race([answer, timeout]);
    return result && !result.done ? result.value : null;
  } finally {
    clearTimeout(timer);
    await answers.return?.();
  }
}
