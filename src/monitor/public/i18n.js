import { h } from './dom.js';
import { en, he } from './strings.js';

/**
 * The console's language (its words are in strings.js) and times in the business's zone.
 * Static text in index.html names its string with `data-i18n` (text) or
 * `data-i18n-placeholder` / `data-i18n-label` (attributes); everything else is rendered
 * from code through `t`.
 */

/** @typedef {import('./strings.js').StringKey} StringKey */
/** @typedef {'he' | 'en'} Language */

const strings = { he, en };
const languageKey = 'callwatch.monitor.language';

/** @type {{ language: Language; timeZone: string | undefined }} */
const current = { language: initialLanguage(), timeZone: undefined };

/** @returns {Language} */
function initialLanguage() {
  const saved = localStorage.getItem(languageKey);
  if (saved === 'he' || saved === 'en') return saved;
  return navigator.language.startsWith('he') ? 'he' : 'en';
}

/** @returns {Language} */
export function language() {
  return current.language;
}

/**
 * Switches the UI language; `remember` keeps the choice for next time (it is not a secret,
 * so it lives in local storage).
 *
 * @param {Language} next
 * @param {{ remember?: boolean }} [options]
 */
export function setLanguage(next, { remember = false } = {}) {
  current.language = next;
  if (remember) localStorage.setItem(languageKey, next);
  document.documentElement.lang = next;
  document.documentElement.dir = next === 'he' ? 'rtl' : 'ltr';
  document.title = t('title');
  for (const element of document.querySelectorAll('[data-i18n]')) {
    element.textContent = t(/** @type {StringKey} */ (element.getAttribute('data-i18n')));
  }
  for (const element of document.querySelectorAll('[data-i18n-placeholder]')) {
    element.setAttribute('placeholder', t(/** @type {StringKey} */ (element.getAttribute('data-i18n-placeholder'))));
  }
  for (const element of document.querySelectorAll('[data-i18n-label]')) {
    element.setAttribute('aria-label', t(/** @type {StringKey} */ (element.getAttribute('data-i18n-label'))));
  }
}

/** True when the person chose a language themselves (a business's locale must not override it). */
export function languageChosen() {
  return localStorage.getItem(languageKey) !== null;
}

/**
 * @param {StringKey} key
 * @param {Record<string, string | number>} [values]
 */
export function t(key, values = {}) {
  return template(key).replace(/\{(\w+)\}/g, (match, name) => (name in values ? String(values[name]) : match));
}

/**
 * The string `key` in the current language (English when Hebrew lacks it).
 *
 * @param {StringKey} key
 */
function template(key) {
  return strings[current.language][key] ?? en[key] ?? key;
}

/**
 * Like `t`, as nodes: each value is isolated in its own <bdi>, so a Hebrew name inside an
 * English sentence (or a number inside a Hebrew one) keeps its own direction and does not
 * reorder the words around it.
 *
 * @param {StringKey} key
 * @param {Record<string, string | number>} values
 * @returns {(string | HTMLElement)[]}
 */
export function tx(key, values) {
  /** @type {(string | HTMLElement)[]} */
  const nodes = [];
  for (const part of template(key).split(/(\{\w+\})/)) {
    const name = /^\{(\w+)\}$/.exec(part)?.[1];
    if (name !== undefined && name in values) nodes.push(h('bdi', {}, String(values[name])));
    else if (part) nodes.push(part);
  }
  return nodes;
}

/**
 * A reason Callwatch gives (why a call ended, why a step was skipped), in words; one with
 * no translation shows as it is.
 *
 * @param {string} reason
 */
export function reasonText(reason) {
  return tOr(`reason.${reason}`, reason);
}

/**
 * A key of `strings` built at run time (a status, a step, an event type); falls back to
 * the raw value when there is no translation, so a new server value still shows.
 *
 * @param {string} key
 * @param {string} fallback
 */
export function tOr(key, fallback) {
  return key in en ? t(/** @type {StringKey} */ (key)) : fallback;
}

/** @param {string | undefined} zone */
export function setTimeZone(zone) {
  current.timeZone = zone;
}

export function timeZone() {
  return current.timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/**
 * Wall-clock time in the business's zone; the date too when it is not today there.
 *
 * @param {string | Date} instant
 */
export function formatTime(instant) {
  const date = new Date(instant);
  const zone = timeZone();
  const day = (/** @type {Date} */ value) => value.toLocaleDateString('en-CA', { timeZone: zone });
  const time = date.toLocaleTimeString(locale(), { timeZone: zone, hour: '2-digit', minute: '2-digit', second: '2-digit' });
  if (day(date) === day(new Date())) return time;
  return `${date.toLocaleDateString(locale(), { timeZone: zone, day: 'numeric', month: 'short' })} ${time}`;
}

/** @param {number} seconds */
export function formatDuration(seconds) {
  const whole = Math.max(0, Math.floor(seconds));
  const minutes = Math.floor(whole / 60);
  return `${minutes}:${String(whole % 60).padStart(2, '0')}`;
}

/** The Intl locale of the UI language. */
export function locale() {
  return current.language === 'he' ? 'he-IL' : 'en-GB';
}

/** @param {number} value */
export function formatNumber(value) {
  return new Intl.NumberFormat(locale()).format(value);
}

/**
 * Milliseconds, as the locale writes them (e.g. "1,750 ms"); "—" for none.
 *
 * @param {number | null | undefined} ms
 */
export function formatMs(ms) {
  if (ms === null || ms === undefined) return '—';
  return new Intl.NumberFormat(locale(), { style: 'unit', unit: 'millisecond', unitDisplay: 'short', maximumFractionDigits: 0 }).format(ms);
}

/**
 * US dollars in the locale's way; cents under a dollar keep up to four decimals (a call
 * costs fractions of a cent). "—" for none.
 *
 * @param {number | null | undefined} usd
 */
export function formatUsd(usd) {
  if (usd === null || usd === undefined) return '—';
  return new Intl.NumberFormat(locale(), { style: 'currency', currency: 'USD', minimumFractionDigits: 2, maximumFractionDigits: Math.abs(usd) < 1 ? 4 : 2 }).format(usd);
}

/**
 * A calendar day (YYYY-MM-DD, already in the business's zone) as "4 Dec".
 *
 * @param {string} day
 * @param {{ weekday?: boolean }} [options]
 */
export function formatDay(day, { weekday = false } = {}) {
  // Noon UTC of that date, formatted in UTC: the date itself, whatever the zone.
  return new Date(`${day}T12:00:00Z`).toLocaleDateString(locale(), { timeZone: 'UTC', day: 'numeric', month: 'short', ...(weekday ? { weekday: 'short' } : {}) });
}

/**
 * The instant a calendar day starts in the business's zone (DST included): the zone's
 * offset is read at a first guess and read again at the answer.
 *
 * @param {string} day YYYY-MM-DD
 */
export function startOfDay(day) {
  const utcMidnight = Date.parse(`${day}T00:00:00Z`);
  let instant = utcMidnight - zoneOffsetMs(utcMidnight);
  instant = utcMidnight - zoneOffsetMs(instant);
  return new Date(instant);
}

/**
 * Today's date in the business's zone, moved by `days`.
 *
 * @param {number} [days]
 */
export function zoneDay(days = 0) {
  const today = new Date().toLocaleDateString('en-CA', { timeZone: timeZone() });
  return new Date(Date.parse(`${today}T12:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
}

/** @param {number} instant */
function zoneOffsetMs(instant) {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', { timeZone: timeZone(), hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' })
      .formatToParts(new Date(instant))
      .map((part) => [part.type, part.value]),
  );
  const wall = Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute), Number(parts.second));
  return wall - Math.floor(instant / 1000) * 1000;
}
