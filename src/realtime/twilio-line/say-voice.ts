import type twilio from 'twilio';

/** A `<Say>`'s `language` and `voice`, always set together. */
export type SayVoice = Required<Pick<NonNullable<Parameters<twilio.twiml.VoiceResponse['say']>[0]>, 'language' | 'voice'>>;

/**
 * A voice for each conversation language (ISO 639-1), each one Twilio lists for that
 * language. Without a voice Twilio uses `man`, which speaks only English, Spanish, French
 * and German; any other language fails the `<Say>` (warning 13511) and the caller hears
 * nothing — so every `<Say>` takes its pair from here.
 */
const voices: Record<string, SayVoice> = {
  he: { language: 'he-IL', voice: 'Google.he-IL-Standard-A' },
  en: { language: 'en-US', voice: 'Polly.Joanna' },
  ar: { language: 'arb', voice: 'Polly.Zeina' },
  ru: { language: 'ru-RU', voice: 'Polly.Tatyana' },
  fr: { language: 'fr-FR', voice: 'Polly.Lea' },
  es: { language: 'es-ES', voice: 'Polly.Lucia' },
  de: { language: 'de-DE', voice: 'Polly.Vicki' },
};

/**
 * The `<Say>` language and voice for a business's language (`he`, or a tag like `he-IL`).
 * A language Twilio cannot speak gets English — a valid pair, so the `<Say>` still plays.
 */
export function sayVoice(language: string): SayVoice {
  const primary = language.split(/[-_]/, 1)[0]?.toLowerCase() ?? '';
  return voices[primary] ?? voices.en!;
}
