import { nameOrNumber, statusKey } from './call-list.js';
import { h } from './dom.js';
import { formatTime, t, tOr, tx } from './i18n.js';

/**
 * @typedef {{
 *   id: string; status: string; attempts: number; scheduledAt: string; purpose: string;
 *   lastOutcome: string | null; lastError: string | null;
 *   lead: { fullName: string | null; phone: string } | null;
 *   campaign: { name: string } | null;
 *   lastCall: { id: string } | null;
 * }} OutboundJob
 */

/** Statuses after which a job never calls again; the list keeps them below the rest. */
const finished = new Set(['COMPLETED', 'NO_ANSWER', 'BUSY', 'FAILED', 'CANCELED']);

/**
 * The business's outbound calls: who, why, where each stands (waiting for its next attempt
 * and when, dialing, on the line, or how it ended). Kept current by the
 * `outboundCallJobUpdated` subscription; a job whose call exists opens that call.
 */
export class OutboundList {
  /** @type {Map<string, OutboundJob>} */
  #jobs = new Map();
  #list;
  #empty;
  #onOpenCall;

  /**
   * @param {{ list: HTMLElement; empty: HTMLElement }} elements
   * @param {(callId: string) => void} onOpenCall
   */
  constructor(elements, onOpenCall) {
    this.#list = elements.list;
    this.#empty = elements.empty;
    this.#onOpenCall = onOpenCall;
  }

  /** @param {OutboundJob[]} jobs */
  set(jobs) {
    this.#jobs = new Map(jobs.map((job) => [job.id, job]));
    this.render();
  }

  /** @param {OutboundJob} job */
  upsert(job) {
    this.#jobs.set(job.id, job);
    this.render();
  }

  render() {
    const jobs = [...this.#jobs.values()]
      .sort((a, b) => Number(finished.has(a.status)) - Number(finished.has(b.status)) || a.scheduledAt.localeCompare(b.scheduledAt))
      .slice(0, 30);
    this.#list.replaceChildren(...jobs.map((job) => this.#row(job)));
    this.#empty.hidden = jobs.length > 0;
  }

  /** @param {OutboundJob} job */
  #row(job) {
    const status = statusKey(job.status);
    const who = nameOrNumber(job.lead?.fullName ?? null, job.lead?.phone ?? '—');
    /** @type {(string | HTMLElement)[]} */
    const detail = [];
    if (job.status === 'QUEUED') detail.push(...tx(job.attempts > 0 ? 'outbound.retryAt' : 'outbound.dueAt', { time: formatTime(job.scheduledAt) }));
    if (job.attempts > 0) detail.push(detail.length ? ' · ' : '', t('outbound.attempts', { count: job.attempts }));
    if (job.lastOutcome) detail.push(' · ', tOr(`outcome.${job.lastOutcome}`, job.lastOutcome));
    const body = [
      h('span', { class: 'call-who' }, who),
      h('span', { class: `badge status-${status}` }, tOr(`outbound.status.${job.status}`, status)),
      h('span', { class: 'call-meta' }, h('bdi', {}, job.campaign ? `${job.campaign.name}: ${job.purpose}` : job.purpose)),
      detail.length > 0 ? h('span', { class: 'call-meta' }, ...detail) : null,
      job.lastError ? h('span', { class: 'call-meta error' }, h('bdi', {}, job.lastError)) : null,
    ];
    const lastCall = job.lastCall;
    const content = lastCall
      ? h('button', { type: 'button', class: 'call-row', 'data-job-id': job.id, 'data-status': job.status }, ...body)
      : h('div', { class: 'call-row', 'data-job-id': job.id, 'data-status': job.status }, ...body);
    if (lastCall) content.addEventListener('click', () => this.#onOpenCall(lastCall.id));
    return h('li', {}, content);
  }
}
