import type { Slot } from '../../core/business-hours.ts';
import { languageName } from '../../core/language.ts';
import { formatter } from '../../core/time.ts';

export type Gender = 'male' | 'female';

export interface GreetingInput {
  template: string;
  businessName: string;
  firstName: string | null;
  gender: Gender | null;
}

/**
 * Renders the business's greeting template: `{firstName}` and `{businessName}` are filled
 * in, and `{masculine|feminine}` picks the form matching the caller's gender (masculine
 * when unknown, the customary default in Hebrew). Without a first name, `{firstName}` and
 * the space before it disappear: "שלום {firstName}, …" → "שלום, …".
 */
export function renderGreeting(input: GreetingInput): string {
  return input.template
    .replace(/\s*\{firstName\}/g, input.firstName ? ` ${input.firstName}` : '')
    .replace(/\{businessName\}/g, input.businessName)
    .replace(/\{([^{}|]*)\|([^{}|]*)\}/g, (_match, masculine: string, feminine: string) =>
      input.gender === 'female' ? feminine : masculine,
    )
    .trim();
}

export interface InstructionsInput {
  agentInstructions: string;
  businessName: string;
  timeZone: string;
  language: string;
  now: Date;
  direction: 'inbound' | 'outbound';
  caller: { fullName: string | null; firstName: string | null; gender: Gender | null; city: string | null; service: string | null } | null;
  outbound: { purpose: string; instructions: string | null } | null;
  slots: Slot[];
  greeting: string;
}


/** How many upcoming free slots the agent is told about up front. */
const slotsInPrompt = 12;

/**
 * The agent's session instructions: the business's own instructions, then what is known
 * about this call. Built once per call, before the session starts.
 */
export function buildInstructions(input: InstructionsInput): string {
  const language = languageName(input.language);
  const local = (date: Date, options: Intl.DateTimeFormatOptions) => formatter('en-GB', { timeZone: input.timeZone, ...options }).format(date);
  const lines = [
    input.agentInstructions.trim(),
    '',
    '# This call',
    `- You answer the phone for ${input.businessName}. Speak ${language} unless the caller switches language.`,
    `- It is now ${local(input.now, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric', hour: '2-digit', minute: '2-digit' })} (${input.timeZone}).`,
  ];
  const caller = input.caller;
  if (caller?.fullName) lines.push(`- The caller is ${caller.fullName}; address them by first name (${caller.firstName ?? caller.fullName}).`);
  else lines.push('- The caller is not known yet: ask for their name early in the conversation.');
  if (caller?.gender) {
    lines.push(`- Address the caller in ${caller.gender === 'female' ? 'feminine' : 'masculine'} grammatical forms.`);
  } else if (input.language === 'he') {
    lines.push('- The caller\'s gender is unknown: prefer gender-neutral phrasing until it is clear.');
  }
  if (caller?.city) lines.push(`- Known city: ${caller.city}.`);
  if (caller?.service) lines.push(`- Previously asked about: ${caller.service}.`);
  if (input.direction === 'outbound' && input.outbound) {
    lines.push(`- You placed this call. Reason: ${input.outbound.purpose}. Open by saying why you are calling.`);
    if (input.outbound.instructions) lines.push(`- For this call: ${input.outbound.instructions}`);
  }
  if (input.slots.length > 0) {
    lines.push('- Next free appointment slots (local time):');
    for (const slot of input.slots.slice(0, slotsInPrompt)) {
      lines.push(`  - ${local(slot.start, { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' })}`);
    }
  } else {
    lines.push('- There are no free appointment slots in the coming days.');
  }
  lines.push(`- Your first sentence on this call is exactly: "${input.greeting}"`);
  return lines.join('\n');
}
