/**
 * The disclosure every call opens with (Israel's Privacy Protection Law, Amendment 13, and
 * the same rule elsewhere): the person is talking to an AI assistant and, when the business
 * records its calls, that the call is recorded. It is said before the greeting, as part of
 * the agent's first sentence, so it costs the call nothing: no statement, no extra response.
 *
 * Recording is mentioned only when the call is recorded (`recordCalls`): a disclosure that
 * claims a recording nobody makes is as untrue as one that hides it. A business's own
 * wording (`callDisclosure`) replaces the defaults as it is; the business keeps it true.
 */

/** Default wording by language: with and without the recording. */
const defaults: Record<string, { recorded: string; notRecorded: string }> = {
  // Plural address ("לידיעתכם"): gender-neutral, said before anyone is known.
  he: {
    recorded: 'לידיעתכם, השיחה מוקלטת ומתנהלת מול עוזר דיגיטלי מבוסס בינה מלאכותית.',
    notRecorded: 'לידיעתכם, השיחה מתנהלת מול עוזר דיגיטלי מבוסס בינה מלאכותית.',
  },
  en: {
    recorded: 'Please note: this call is recorded, and you are speaking with an AI assistant.',
    notRecorded: 'Please note: you are speaking with an AI assistant.',
  },
  ar: {
    recorded: 'للعلم، هذه المكالمة مسجلة وتجري مع مساعد افتراضي يعمل بالذكاء الاصطناعي.',
    notRecorded: 'للعلم، هذه المكالمة تجري مع مساعد افتراضي يعمل بالذكاء الاصطناعي.',
  },
  ru: {
    recorded: 'Обратите внимание: звонок записывается, и с вами говорит виртуальный ассистент на основе искусственного интеллекта.',
    notRecorded: 'Обратите внимание: с вами говорит виртуальный ассистент на основе искусственного интеллекта.',
  },
};

export interface DisclosureSettings {
  language: string;
  recordCalls: boolean;
  callDisclosureEnabled: boolean;
  callDisclosure: string | null | undefined;
}

/**
 * What the agent says before its greeting, or null when the business turned it off. A
 * language without default wording gets the English one: the agent is told to say the
 * opening in the business's language, so the model translates it.
 */
export function callDisclosure(settings: DisclosureSettings): string | null {
  if (!settings.callDisclosureEnabled) return null;
  const custom = settings.callDisclosure?.trim();
  if (custom) return custom;
  const wording = defaults[settings.language] ?? defaults.en!;
  return settings.recordCalls ? wording.recorded : wording.notRecorded;
}

/** The agent's first sentence: the disclosure (when on), then the business's greeting. */
export function openingLine(disclosure: string | null, greeting: string): string {
  return disclosure ? `${disclosure} ${greeting}` : greeting;
}
