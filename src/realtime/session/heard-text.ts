/**
 * What the caller actually heard of an agent turn they interrupted: the transcript cut in
 * proportion to the audio played before the interruption (speech time follows the text
 * closely enough at this granularity), back to the last whole word. A word cut in half
 * was not heard.
 */
export function heardText(text: string, heardMs: number, audioMs: number): string {
  if (audioMs <= 0 || heardMs >= audioMs) return text;
  if (heardMs <= 0) return '';
  const cut = Math.floor(text.length * (heardMs / audioMs));
  // A cut that falls on whitespace ends a whole word; otherwise back to the word's start.
  const end = /\s/.test(text.charAt(cut)) ? cut : text.lastIndexOf(' ', cut);
  return end <= 0 ? '' : text.slice(0, end).trimEnd();
}
