/** Building an Intl.DisplayNames costs far more than asking it: one serves every call. */
const englishLanguageNames = new Intl.DisplayNames(['en'], { type: 'language' });

/** English name of an ISO 639-1 code, for model instructions ("Speak Hebrew."). */
export function languageName(code: string): string {
  try {
    return englishLanguageNames.of(code) ?? code;
  } catch {
    return code;
  }
}
