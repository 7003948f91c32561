/**
 * Control characters in text (security review F13). Postgres refuses NUL in text columns
 * (`invalid byte sequence 0x00`); the others are invisible in the console and in CRMs and
 * can forge log lines or terminal output. Refused in GraphQL input (schema/
 * control-characters.plugin.ts); stripped from what outside services hand us before it is
 * stored (transcripts, summaries, the agent's tool arguments).
 *
 * Control characters: C0 except tab, line feed and carriage return; DEL; C1 (U+0080–U+009F,
 * never typed, and some terminals act on them). A lone surrogate cannot be stored as UTF-8
 * either: the driver would turn it into U+FFFD silently.
 */
const controlCharacters = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/;
const allControlCharacters = new RegExp(controlCharacters.source, 'g');

/** Whether `text` holds a control character or a lone surrogate. */
export function hasControlCharacters(text: string): boolean {
  return controlCharacters.test(text) || !text.isWellFormed();
}

/** `text` without its control characters; a lone surrogate becomes U+FFFD. */
export function stripControlCharacters(text: string): string {
  const wellFormed = text.isWellFormed() ? text : text.toWellFormed();
  return controlCharacters.test(wellFormed) ? wellFormed.replace(allControlCharacters, '') : wellFormed;
}

/** Every string in a JSON-like value (object keys too) through stripControlCharacters. */
export function stripControlCharactersDeep<T>(value: T): T {
  if (typeof value === 'string') return stripControlCharacters(value) as T;
  if (Array.isArray(value)) return value.map((item: unknown) => stripControlCharactersDeep(item)) as T;
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [stripControlCharacters(key), stripControlCharactersDeep(item)])) as T;
  }
  return value;
}
