/**
 * Twilio's check of the `<Say>`s in the TwiML a call runs. Each TTS voice speaks its own
 * languages; "using an invalid combination of voice and language may result in error and
 * `<Say>` instruction failure" (twilio.com/docs/voice/twiml/say). A `<Say>` without a
 * voice gets Twilio's default, `man`, which speaks only English, Spanish, French and
 * German — so `<Say language="he-IL">` alone is silence for the caller. Twilio reports such
 * failures as Monitor alerts (Debugger warnings); the stand-in records them the same way:
 * 13511 "Say: Invalid voice value" for a voice that cannot speak the language (or is not
 * one of Twilio's), 13520 "Say: Invalid text" for an empty `<Say>`.
 */

/** One alert, as Twilio's Monitor API lists it (camel-cased). */
export interface TwilioAlert {
  errorCode: '13511' | '13520';
  logLevel: 'warning';
  alertText: string;
  moreInfo: string;
  /** The call whose TwiML it was. */
  resourceSid: string;
  /** The `<Say>` as written: its voice and language (null when left out) and text. */
  say: { voice: string | null; language: string | null; text: string };
  dateCreated: Date;
}

/** What `man` and `woman` speak (Twilio's basic voices). */
const BASIC_LANGUAGES = ['en', 'en-us', 'en-gb', 'es', 'es-es', 'fr', 'fr-fr', 'de', 'de-de'];
/** What `alice` speaks. */
const ALICE_LANGUAGES = [
  'da-dk', 'de-de', 'en-au', 'en-ca', 'en-gb', 'en-in', 'en-us', 'ca-es', 'es-es', 'es-mx', 'fi-fi', 'fr-ca', 'fr-fr', 'it-it', 'ja-jp',
  'ko-kr', 'nb-no', 'nl-nl', 'pl-pl', 'pt-br', 'pt-pt', 'ru-ru', 'sv-se', 'zh-cn', 'zh-hk', 'zh-tw',
];
/** Amazon Polly voices Twilio offers, by the language each speaks (docs.aws.amazon.com/polly/latest/dg/available-voices.html). */
const POLLY_LANGUAGES: Record<string, string[]> = {
  'en-us': ['Joanna', 'Joey', 'Justin', 'Kendra', 'Kevin', 'Kimberly', 'Matthew', 'Salli', 'Ivy', 'Ruth', 'Stephen', 'Danielle', 'Gregory'],
  'en-gb': ['Amy', 'Brian', 'Emma', 'Arthur'],
  'en-au': ['Nicole', 'Russell', 'Olivia'],
  'en-in': ['Aditi', 'Raveena', 'Kajal'],
  'en-gb-wls': ['Geraint'],
  'en-nz': ['Aria'],
  'en-za': ['Ayanda'],
  'en-ie': ['Niamh'],
  arb: ['Zeina'],
  'ar-ae': ['Hala', 'Zayd'],
  'ru-ru': ['Maxim', 'Tatyana'],
  'fr-fr': ['Celine', 'Lea', 'Mathieu', 'Remi', 'Rémi'],
  'fr-ca': ['Chantal', 'Gabrielle', 'Liam'],
  'fr-be': ['Isabelle'],
  'de-de': ['Hans', 'Marlene', 'Vicki', 'Daniel'],
  'de-at': ['Hannah'],
  'es-es': ['Conchita', 'Enrique', 'Lucia', 'Sergio'],
  'es-mx': ['Mia', 'Mía', 'Andres'],
  'es-us': ['Lupe', 'Miguel', 'Penelope', 'Pedro'],
  'it-it': ['Bianca', 'Carla', 'Giorgio', 'Adriano'],
  'pt-br': ['Camila', 'Ricardo', 'Vitoria', 'Thiago'],
  'pt-pt': ['Cristiano', 'Ines'],
  'nl-nl': ['Lotte', 'Ruben', 'Laura'],
  'nl-be': ['Lisa'],
  'pl-pl': ['Ewa', 'Jacek', 'Jan', 'Maja', 'Ola'],
  'sv-se': ['Astrid', 'Elin'],
  'nb-no': ['Liv', 'Ida'],
  'da-dk': ['Mads', 'Naja', 'Sofie'],
  'fi-fi': ['Suvi'],
  'is-is': ['Dora', 'Karl'],
  'tr-tr': ['Filiz', 'Burcu'],
  'ro-ro': ['Carmen'],
  'cy-gb': ['Gwyneth'],
  'ja-jp': ['Mizuki', 'Takumi', 'Kazuha', 'Tomoko'],
  'ko-kr': ['Seoyeon'],
  'cmn-cn': ['Zhiyu'],
  'yue-hk': ['Hiujin'],
  'ca-es': ['Arlet'],
  'hi-in': ['Aditi', 'Kajal'],
};

/**
 * Why a `<Say>` with this voice and language fails at Twilio, or null when it plays.
 * Absent attributes take Twilio's defaults: voice `man`, language `en-US`.
 */
export function sayProblem(voice: string | null, language: string | null): string | null {
  const speaker = voice ?? 'man';
  const lang = (language ?? 'en-US').toLowerCase();
  const speaks = languagesOf(speaker);
  if (speaks === null) return `'${speaker}' is not a Twilio voice`;
  if (!speaks.includes(lang)) return `voice '${speaker}'${voice === null ? ' (the default, no voice given)' : ''} does not speak '${language ?? 'en-US'}'`;
  return null;
}

/** Every alert Twilio raises running `twiml` on call `callSid`: one per failing `<Say>`. */
export function sayAlerts(callSid: string, twiml: string): TwilioAlert[] {
  const alerts: TwilioAlert[] = [];
  for (const match of twiml.matchAll(/<Say\b([^>]*?)(?:\/>|>([\s\S]*?)<\/Say>)/g)) {
    const attributes = Object.fromEntries([...(match[1] ?? '').matchAll(/([\w:-]+)\s*=\s*"([^"]*)"/g)].map(([, name, value]) => [name, unescape(value ?? '')]));
    // SSML inside a <Say> (<break/>, <prosody>…) is markup; the words are what is spoken.
    const text = unescape((match[2] ?? '').replace(/<[^>]*>/g, '')).trim();
    const say = { voice: attributes.voice ?? null, language: attributes.language ?? null, text };
    const problem = text === '' ? 'the text is empty' : sayProblem(say.voice, say.language);
    if (problem === null) continue;
    const errorCode = text === '' ? '13520' : '13511';
    alerts.push({
      errorCode,
      logLevel: 'warning',
      alertText: `${errorCode === '13520' ? 'Say: Invalid text' : 'Say: Invalid voice value'}: ${problem}`,
      moreInfo: `https://www.twilio.com/docs/api/errors/${errorCode}`,
      resourceSid: callSid,
      say,
      dateCreated: new Date(),
    });
  }
  return alerts;
}

/** The languages a voice speaks, lower-cased; null for a name Twilio does not know. */
function languagesOf(voice: string): string[] | null {
  if (voice === 'man' || voice === 'woman') return BASIC_LANGUAGES;
  if (voice === 'alice') return ALICE_LANGUAGES;
  const google = /^Google\.([a-z]{2,3}-[a-z]{2})-(?:Standard|Wavenet|Neural2|Chirp3-HD-[A-Za-z]+)(?:-[A-Z])?$/i.exec(voice);
  if (google?.[1]) return [google[1].toLowerCase()];
  const polly = /^Polly\.(\p{L}+)(?:-Neural|-Generative)?$/u.exec(voice)?.[1];
  if (!polly) return null;
  const languages = Object.entries(POLLY_LANGUAGES).filter(([, names]) => names.includes(polly)).map(([lang]) => lang);
  return languages.length > 0 ? languages : null;
}

function unescape(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
}
