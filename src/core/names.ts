/**
 * Titles and honorifics that come before a name and are never the first name itself.
 * Hebrew abbreviations are written with a geresh (׳) or gershayim (״), or with the ASCII
 * look-alikes (' and ") that people type on ordinary keyboards; both are listed once here
 * in canonical form and the input is canonicalised before comparison.
 */
const titles = new Set([
  'מר',
  'גב׳',
  'גברת',
  'ד״ר',
  'דוקטור',
  'פרופ׳',
  'פרופסור',
  'הרב',
  'רב',
  'הרבנית',
  'עו״ד',
  'רו״ח',
  'מהנדס',
  'אינג׳',
  'mr',
  'mrs',
  'ms',
  'miss',
  'dr',
  'prof',
  'rabbi',
  'sir',
]);

function canonical(word: string): string {
  return word
    .toLowerCase()
    .replace(/["״]/g, '״')
    .replace(/['׳`’]/g, '׳')
    .replace(/\.$/, '');
}

/**
 * The first name inside a full name, skipping titles (`ד"ר משה כהן` → `משה`,
 * `Dr. Jane Doe` → `Jane`). Returns undefined when nothing but titles is left.
 * Derived once when a lead's name is saved; nothing re-derives it during a call.
 */
export function firstNameOf(fullName: string | null | undefined): string | undefined {
  if (!fullName) return undefined;
  const words = fullName.trim().split(/[\s,]+/).filter(Boolean);
  return words.find((word) => !titles.has(canonical(word)));
}
