import { readFileSync } from 'node:fs';

/**
 * The recorded speech the stand-ins and tests use: Hebrew, spoken by espeak-ng, stored as
 * raw 8 kHz μ-law next to this file (see fixtures/README.md for how they were made).
 */
export const audioFixtures = {
  /** The caller asks to book a kitchen renovation appointment. */
  'caller-booking': { file: 'caller-booking.he.ulaw', text: 'שלום, אני רוצה לקבוע תור לשיפוץ מטבח' },
  /** The agent greets Sarah on behalf of שיפוצי הגליל. */
  'agent-greeting': { file: 'agent-greeting.he.ulaw', text: 'שלום שרה, ברוכה הבאה לשיפוצי הגליל. במה אפשר לעזור?' },
} as const;

export type AudioFixtureName = keyof typeof audioFixtures;

const cache = new Map<AudioFixtureName, Buffer>();

/** The μ-law bytes of a speech fixture. Read once; every call returns a fresh copy. */
export function loadFixture(name: AudioFixtureName): Buffer {
  let audio = cache.get(name);
  if (!audio) {
    audio = readFileSync(new URL(`./fixtures/${audioFixtures[name].file}`, import.meta.url));
    cache.set(name, audio);
  }
  return Buffer.from(audio);
}

/** The words spoken in a speech fixture. */
export function fixtureText(name: AudioFixtureName): string {
  return audioFixtures[name].text;
}
