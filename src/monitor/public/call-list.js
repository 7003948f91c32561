import { h } from './dom.js';
import { formatDuration, formatTime, t, tOr } from './i18n.js';

/**
 * @typedef {{
 *   id: string; callSid: string; direction: 'INBOUND' | 'OUTBOUND'; status: string;
 *   fromNumber: string; toNumber: string; startedAt: string | null; endedAt: string | null;
 *   durationSec: number | null; createdAt: string; lead: { fullName: string | null } | null;
 * }} CallSummary
 */

/** GraphQL's enum (IN_PROGRESS) as the lower-case status the strings use (in-progress). */
export const statusKey = (/** @type {string} */ status) => status.toLowerCase().replace(/_/g, '-');

/**
 * Who is on the other end of a call: the lead's name, else the number.
 *
 * @param {CallSummary} call
 */
export function who(call) {
  return nameOrNumber(call.lead?.fullName ?? null, call.direction === 'OUTBOUND' ? call.toNumber : call.fromNumber);
}

/**
 * A person's name in its own direction, else their number, kept left to right.
 *
 * @param {string | null} name
 * @param {string} number
 */
export function nameOrNumber(name, number) {
  return name ? h('bdi', {}, name) : h('bdi', { dir: 'ltr' }, number);
}

/**
 * The two lists on the left: live calls (kept current by the `liveCalls` subscription)
 * and recent finished ones. Rows are buttons, updated in place — a row that has keyboard
 * focus keeps it while its duration ticks.
 */
export class CallList {
  /** @type {Map<string, CallSummary>} */
  #live = new Map();
  /** @type {CallSummary[]} */
  #recent = [];
  /** @type {Map<string, HTMLLIElement>} */
  #rows = new Map();
  /** @type {string | undefined} */
  #selected;
  #elements;
  #onSelect;

  /**
   * @param {{ live: HTMLElement; liveEmpty: HTMLElement; recent: HTMLElement; recentEmpty: HTMLElement }} elements
   * @param {(call: CallSummary) => void} onSelect
   */
  constructor(elements, onSelect) {
    this.#elements = elements;
    this.#onSelect = onSelect;
  }

  /** @param {CallSummary} call */
  upsertLive(call) {
    this.#live.set(call.id, { ...this.#live.get(call.id), ...call });
    this.render();
  }

  /**
   * A live call ended at `at`: it moves to the top of the recent list. Its row may not be
   * written yet when the event comes, so the status and duration are worked out here.
   *
   * @param {string} callId
   * @param {string} at
   */
  end(callId, at) {
    const call = this.#live.get(callId) ?? this.#recent.find((candidate) => candidate.id === callId);
    this.#live.delete(callId);
    if (!call) return;
    const status = ['QUEUED', 'INITIATED', 'RINGING', 'IN_PROGRESS'].includes(call.status) ? 'COMPLETED' : call.status;
    const durationSec = call.durationSec ?? Math.round((Date.parse(at) - Date.parse(call.startedAt ?? call.createdAt)) / 1000);
    this.#recent = [{ ...call, status, durationSec, endedAt: at }, ...this.#recent.filter((candidate) => candidate.id !== callId)].slice(0, 30);
    this.render();
  }

  /**
   * A finished call's row as stored (after the call, its final status and duration).
   *
   * @param {CallSummary} call
   */
  updateRecent(call) {
    this.#recent = this.#recent.map((candidate) => (candidate.id === call.id ? { ...candidate, ...call } : candidate));
    this.render();
  }

  /** @param {CallSummary[]} calls */
  setRecent(calls) {
    this.#recent = calls.filter((call) => !this.#live.has(call.id));
    this.render();
  }

  /** Forgets the live calls (before a resubscription sends them again). */
  clearLive() {
    this.#live.clear();
    this.render();
  }

  /** @param {string | undefined} callId */
  select(callId) {
    this.#selected = callId;
    for (const [id, row] of this.#rows) row.querySelector('button')?.setAttribute('aria-current', String(id === callId));
  }

  /** Redraws both lists from their state (also after a language change, and every second for durations). */
  render() {
    const live = [...this.#live.values()].sort((a, b) => (b.startedAt ?? b.createdAt).localeCompare(a.startedAt ?? a.createdAt));
    this.#fill(this.#elements.live, live, true);
    this.#fill(this.#elements.recent, this.#recent, false);
    this.#elements.liveEmpty.hidden = live.length > 0;
    this.#elements.recentEmpty.hidden = this.#recent.length > 0;
  }

  /**
   * @param {HTMLElement} list
   * @param {CallSummary[]} calls
   * @param {boolean} live
   */
  #fill(list, calls, live) {
    const wanted = calls.map((call) => this.#row(call, live));
    // Move rows only when the order changed: moving a focused row would drop its focus.
    wanted.forEach((row, index) => {
      if (list.children[index] !== row) list.insertBefore(row, list.children[index] ?? null);
    });
    while (list.children.length > wanted.length) list.lastElementChild?.remove();
  }

  /**
   * @param {CallSummary} call
   * @param {boolean} live
   */
  #row(call, live) {
    let row = this.#rows.get(call.id);
    if (!row) {
      const button = h('button', { type: 'button', class: 'call-row', 'data-call-id': call.id, 'aria-current': String(call.id === this.#selected) });
      button.addEventListener('click', () => this.#onSelect(this.#live.get(call.id) ?? this.#recent.find((candidate) => candidate.id === call.id) ?? call));
      row = h('li', {}, button);
      this.#rows.set(call.id, row);
    }
    const button = /** @type {HTMLButtonElement} */ (row.firstElementChild);
    const started = call.startedAt ?? call.createdAt;
    const seconds = live ? (Date.now() - Date.parse(started)) / 1000 : (call.durationSec ?? 0);
    const status = statusKey(call.status);
    button.replaceChildren(
      h('span', { class: 'call-who' }, who(call)),
      h('span', { class: `badge status-${status}` }, tOr(`status.${status}`, status)),
      h('span', { class: 'call-meta' }, `${call.direction === 'OUTBOUND' ? '↗' : '↙'} ${t(call.direction === 'OUTBOUND' ? 'direction.outbound' : 'direction.inbound')} · ${formatTime(started)} · `, h('span', { class: 'duration' }, formatDuration(seconds))),
    );
    return row;
  }
}
