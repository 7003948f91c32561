import type { ConversationItemCreateEvent } from 'openai/resources/realtime/realtime';
import { languageName } from '../../core/language.ts';
import type { CallContext } from '../call-context.ts';

/**
 * Every sentence Callwatch tells the model, besides the business's own prompt: what to say
 * right now (greeting, reprompt, goodbye, apology…) and the notes it adds to the
 * conversation (a supervisor's whisper, a key press, a tool result after a reconnect).
 *
 * A response's `instructions` REPLACE the session's for that response (the SDK's
 * `ResponseCreateEvent`: "they will override the Session's configuration for this Response
 * only"), so a directive is never sent alone: `responseInstructions` puts the whole
 * business prompt first and the directive after it, and every directive names the
 * business's language — the agent keeps its persona and language in every response.
 */

/** A response's instructions: the call's whole prompt, then what to do right now. */
export function responseInstructions(context: CallContext, directive: string): string {
  return `${context.instructions}\n\n# Right now\n${directive}`;
}

function language(context: CallContext): string {
  return languageName(context.settings.language);
}

/** The agent speaks first: exactly the greeting (the call disclosure included); on a call the agent placed, then why it calls. */
export function greetingDirective(context: CallContext): string {
  const job = context.direction === 'outbound' ? context.outboundJob : null;
  return job
    ? `Say exactly this, in ${language(context)}: "${context.greeting}" Then say, in one short sentence in ${language(context)}, why you are calling: ${job.purpose}. Then stop and let them answer.`
    : `Say exactly this, in ${language(context)}, and nothing else: "${context.greeting}"`;
}

export function repromptDirective(context: CallContext): string {
  return `The caller has not said anything for a while. Ask briefly, in ${language(context)}, whether they are still on the line.`;
}

export function silenceGoodbyeDirective(context: CallContext): string {
  return `The caller has stayed silent. Say a short, polite goodbye in ${language(context)}, and nothing else.`;
}

export function timeLimitGoodbyeDirective(context: CallContext): string {
  return `The call has reached its time limit. Thank the caller, say the business will follow up if needed, and say goodbye in ${language(context)}. Keep it to one or two sentences.`;
}

/** The instance is shutting down and the call could not finish before the drain's end. */
export function shutdownGoodbyeDirective(context: CallContext): string {
  return `The line has to close now for maintenance. Apologise for ending the call, say the business will get back to them if needed, and say goodbye in ${language(context)}. Keep it to one or two short sentences.`;
}

/** After a reconnect the caller heard a gap: apologise, then go on (or do what was waiting). */
export function apologyDirective(context: CallContext, then?: string): string {
  const apology = `Apologise in ${language(context)}, in one short sentence, for the interruption`;
  return then ? `${apology}, then: ${then}` : `${apology}, then continue the conversation where it stopped.`;
}

/** A response that ended `incomplete` (cut off): finish the thought, briefly. */
export function continueDirective(context: CallContext): string {
  return `Your last answer was cut off before you finished. Finish it briefly, in ${language(context)}, without repeating what you already said.`;
}

/** Answer the caller's last words (a retry of a response the service failed). */
export function answerDirective(context: CallContext): string {
  return `Answer the caller's last words, in ${language(context)}.`;
}

/** A system note in the conversation; the caller does not hear it. */
function systemNote(text: string): ConversationItemCreateEvent {
  return { type: 'conversation.item.create', item: { type: 'message', role: 'system', content: [{ type: 'input_text', text }] } };
}

/** A supervisor's instruction to the agent mid-call; the caller does not hear it. */
export function supervisorNote(text: string): ConversationItemCreateEvent {
  return systemNote(`Instruction from a supervisor at the business (do not mention it to the caller): ${text}`);
}

/** A key the caller pressed on their phone's keypad. */
export function keyPressNote(digit: string): ConversationItemCreateEvent {
  return systemNote(`The caller pressed the key ${digit} on their phone keypad. Treat it as their answer if you asked for one; otherwise acknowledge it briefly and go on.`);
}

/** Opens a restored conversation: the model is on a call in progress, not starting one. */
export function restoredSessionNote(): ConversationItemCreateEvent {
  return systemNote('This call is already in progress: what follows is the conversation so far. Do not greet the caller again; go on from where it stands.');
}

/** A tool the model ran earlier in the call, for a restored conversation. */
export function restoredToolNote(name: string, args: string, output: string): ConversationItemCreateEvent {
  return systemNote(`Earlier in this call you called the tool ${name} with ${args || '{}'}; it answered: ${output}`);
}
