import { byId, h } from './dom.js';
import { formatDuration, formatTime, reasonText, t, tOr, tx } from './i18n.js';
import { statusKey, who } from './call-list.js';
import { renderLatency } from './latency-chart.js';

/**
 * One call, as the right-hand panel shows it: header, transcript, captured details, what
 * the agent did, and after the call the pipeline's progress with the summary. It starts
 * from the `call` query's snapshot and then applies `callEvents` as they come; an event
 * already in the snapshot (the subscription opens first, so the two overlap) is skipped.
 */

/** The snapshot the panel starts from (the `call` query in main.js). */
/**
 * @typedef {import('./call-list.js').CallSummary & {
 *   endReason: string | null; city: string | null; serviceCategory: string | null;
 *   extracted: Record<string, unknown> | null; summary: string | null;
 *   lead: { fullName: string | null; phone: string; city: string | null; serviceCategory: string | null } | null;
 *   transcript: { speaker: 'CALLER' | 'AGENT'; text: string; at: string; interrupted: boolean }[];
 *   timeline: TimelineEvent[];
 *   pipelineStatus: string;
 *   pipelineSteps: { step: string; outcome: string; error: string | null; reason: string | null }[];
 *   webhookDeliveries: { status: string }[];
 *   latency: import('./latency-chart.js').CallLatency | null;
 *   usage: { estimatedCostUsd: number } | null;
 * }} CallSnapshot
 */
/** @typedef {{ type: string; at: string; [field: string]: any }} TimelineEvent */

export const liveStatuses = new Set(['queued', 'initiated', 'ringing', 'in-progress']);
const steps = ['DOWNLOAD', 'TRANSCRIBE', 'SUMMARIZE', 'EXTRACT', 'DELIVER'];
const timelineTypes = new Set(['call.started', 'agent.interrupted', 'tool.called', 'tool.result', 'lead.captured', 'watchdog.reprompt', 'key.pressed', 'call.closing', 'call.transfer', 'agent.failure', 'supervisor.action', 'call.ended']);

export class CallView {
  /** @type {CallSnapshot | undefined} */
  call;
  /** @type {{ speaker: string; text: string; at: string; interrupted: boolean }[]} */
  #turns = [];
  /** @type {Map<string, { speaker: string; text: string }>} in-progress turns by item id */
  #partials = new Map();
  /** @type {TimelineEvent[]} */
  #timeline = [];
  /** @type {Set<string>} */
  #seen = new Set();
  /** @type {{ name?: string; city?: string; service?: string; notes: string[] }} */
  #captured = { notes: [] };
  /** @type {Map<string, { outcome: string; error: string | null }>} */
  #steps = new Map();
  /** @type {string | undefined} */
  #webhook;
  /**
   * The call that ended while open here: its latency is written just after the event that
   * says it ended, so until the panel reads it again, "not measured" would be wrong.
   *
   * @type {string | undefined}
   */
  #endedWhileOpen;

  get ended() {
    return this.call !== undefined && !liveStatuses.has(statusKey(this.call.status));
  }

  /** @param {CallSnapshot} call */
  show(call) {
    this.call = call;
    this.#seen.clear();
    this.#partials.clear();
    this.#turns = [];
    this.#timeline = [];
    this.#captured = { notes: [] };
    for (const turn of call.transcript) this.#addTurn({ ...turn, speaker: turn.speaker.toLowerCase() });
    for (const event of call.timeline) this.#addTimeline(event);
    this.#steps = new Map(call.pipelineSteps.map((step) => [step.step, { outcome: step.outcome.toLowerCase(), error: step.error ?? step.reason }]));
    this.#webhook = call.webhookDeliveries.at(-1)?.status.toLowerCase();
    this.render();
  }

  /**
   * One `callEvents` event. Returns true when the snapshot should be fetched again (the
   * pipeline wrote something the events do not carry: the summary, the extracted fields).
   *
   * @param {TimelineEvent} event
   */
  apply(event) {
    const call = this.call;
    if (!call) return false;
    switch (event.type) {
      case 'transcript.delta': {
        const partial = this.#partials.get(event.itemId) ?? { speaker: event.speaker, text: '' };
        partial.text += event.delta;
        this.#partials.set(event.itemId, partial);
        this.#renderPartials();
        return false;
      }
      case 'transcript.turn':
        this.#partials.delete(event.itemId);
        this.#addTurn({ ...event.turn, interrupted: event.turn.interrupted ?? false });
        this.#renderTranscript();
        this.#renderPartials();
        return false;
      case 'call.status':
        call.status = event.status.toUpperCase().replace(/-/g, '_');
        break;
      case 'call.ended':
        call.status = liveStatuses.has(statusKey(call.status)) ? 'COMPLETED' : call.status;
        call.endedAt = event.at;
        call.durationSec = event.durationSec;
        call.endReason = event.reason;
        this.#endedWhileOpen = call.id;
        this.#partials.clear();
        break;
      case 'pipeline.step':
        this.#steps.set(event.step.toUpperCase(), { outcome: event.outcome, error: event.error });
        call.pipelineStatus = 'RUNNING';
        this.#renderPipeline();
        // A step runs only once the call's end is written: its latency can be read by now.
        return (event.outcome === 'done' && ['SUMMARIZE', 'EXTRACT'].includes(event.step.toUpperCase())) || call.latency === null;
      case 'pipeline.finished':
        call.pipelineStatus = event.status.toUpperCase();
        this.#renderPipeline();
        return true;
      case 'webhook.attempt':
        this.#webhook = event.status;
        this.#renderPipeline();
        return false;
    }
    if (timelineTypes.has(event.type)) this.#addTimeline(event);
    this.render();
    return false;
  }

  /** Draws everything from state (a new call, a language change). */
  render() {
    const call = this.call;
    byId('call-empty').hidden = call !== undefined;
    byId('call-panel').hidden = call === undefined;
    if (!call) return;
    const status = statusKey(call.status);
    byId('call-title').replaceChildren(who(call));
    byId('call-status').replaceChildren(h('span', { class: `badge status-${status}` }, tOr(`status.${status}`, status)));
    /** @type {(string | HTMLElement)[][]} */
    const meta = [
      [t(call.direction === 'OUTBOUND' ? 'direction.outbound' : 'direction.inbound')],
      [h('bdi', { dir: 'ltr' }, call.direction === 'OUTBOUND' ? call.toNumber : call.fromNumber)],
      tx('call.started', { time: formatTime(call.startedAt ?? call.createdAt) }),
    ];
    if (call.durationSec !== null) meta.push([h('bdi', {}, formatDuration(call.durationSec))]);
    byId('call-meta').replaceChildren(...meta.flatMap((part, index) => (index === 0 ? part : [' · ', ...part])));
    const banner = byId('call-ended');
    banner.hidden = !this.ended;
    banner.replaceChildren(...(call.endReason ? tx('call.ended', { reason: reasonText(call.endReason) }) : [t('call.endedPlain')]));
    document.body.dataset.callState = this.ended ? 'ended' : 'live';
    this.#renderTranscript();
    this.#renderPartials();
    this.#renderFields();
    this.#renderTimeline();
    renderLatency(call, !this.ended ? 'live' : this.#endedWhileOpen === call.id ? 'ending' : 'ended');
    this.#renderPipeline();
  }

  clear() {
    this.call = undefined;
    this.render();
  }

  /** @param {{ speaker: string; text: string; at: string; interrupted: boolean }} turn */
  #addTurn(turn) {
    const key = `turn|${turn.speaker}|${turn.at}|${turn.text}`;
    if (this.#seen.has(key)) return;
    this.#seen.add(key);
    this.#turns.push(turn);
  }

  /** @param {TimelineEvent} event */
  #addTimeline(event) {
    const key = `event|${event.type}|${event.at}|${event.toolCallId ?? event.action ?? ''}`;
    if (this.#seen.has(key)) return;
    this.#seen.add(key);
    this.#timeline.push(event);
    if (event.type === 'lead.captured') {
      const { notes = [], ...fields } = /** @type {{ name?: string; city?: string; service?: string; notes?: string[] }} */ (event.fields);
      Object.assign(this.#captured, Object.fromEntries(Object.entries(fields).filter(([, value]) => value)));
      this.#captured.notes.push(...notes);
    }
  }

  #renderTranscript() {
    const list = byId('transcript');
    const following = isScrolledToEnd(list.parentElement);
    // Appends only what is new, so a screen reader's log announces each turn once.
    for (const [index, turn] of this.#turns.entries()) {
      if (list.children[index]?.getAttribute('data-key') === `${turn.speaker}|${turn.at}`) continue;
      while (list.children.length > index) list.lastElementChild?.remove();
      list.append(turnElement(turn));
    }
    byId('transcript-empty').hidden = this.#turns.length > 0 || this.#partials.size > 0;
    if (following) scrollToEnd(list.parentElement);
  }

  #renderPartials() {
    const container = byId('transcript-live');
    const following = isScrolledToEnd(container.parentElement);
    container.replaceChildren(...[...this.#partials.values()].map((partial) => turnElement({ ...partial, at: '', interrupted: false }, true)));
    byId('transcript-empty').hidden = this.#turns.length > 0 || this.#partials.size > 0;
    if (following) scrollToEnd(container.parentElement);
  }

  /** Re-renders the transcript in the new language's labels. */
  relabel() {
    byId('transcript').replaceChildren();
    this.render();
  }

  #renderFields() {
    const call = /** @type {CallSnapshot} */ (this.call);
    const captured = this.#captured;
    /** @type {[string, string | undefined | null][]} */
    const rows = [
      [t('field.name'), captured.name ?? call.lead?.fullName],
      [t('field.phone'), call.lead?.phone ?? call.fromNumber],
      [t('field.city'), captured.city ?? call.city ?? call.lead?.city],
      [t('field.service'), captured.service ?? call.serviceCategory ?? call.lead?.serviceCategory],
      [t('field.notes'), captured.notes.join(' · ') || null],
    ];
    byId('fields').replaceChildren(...rows.filter(([, value]) => value).flatMap(([label, value]) => [h('dt', {}, label), h('dd', { dir: 'auto' }, value)]));
    byId('fields-empty').hidden = Object.keys(captured).length > 1 || captured.notes.length > 0 || Boolean(call.lead?.fullName);
  }

  #renderTimeline() {
    const items = this.#timeline.map((event) => h('li', { 'data-type': event.type }, h('time', { datetime: event.at }, formatTime(event.at)), ' ', h('span', {}, ...describeEvent(event))));
    byId('timeline').replaceChildren(...items);
    byId('timeline-empty').hidden = items.length > 0;
  }

  #renderPipeline() {
    const call = this.call;
    if (!call) return;
    byId('pipeline').hidden = !this.ended;
    byId('pipeline-status').textContent = tOr(`pipeline.status.${call.pipelineStatus}`, call.pipelineStatus);
    byId('pipeline-steps').replaceChildren(
      ...steps.map((step) => {
        const state = this.#steps.get(step);
        const outcome = state?.outcome ?? 'pending';
        return h('li', { 'data-step': step, 'data-outcome': outcome }, h('span', { class: 'step-mark', 'aria-hidden': 'true' }), `${tOr(`step.${step}`, step)} — ${tOr(`outcome.${outcome}`, outcome)}`, state?.error ? h('span', { class: 'step-error' }, ' (', h('bdi', {}, reasonText(state.error)), ')') : null);
      }),
    );
    const webhook = byId('pipeline-webhook');
    webhook.hidden = this.#webhook === undefined;
    webhook.textContent = this.#webhook ? tOr(`webhook.${this.#webhook}`, this.#webhook) : '';
    byId('summary-block').hidden = !call.summary;
    byId('summary').textContent = call.summary ?? '';
    const extracted = Object.entries(call.extracted ?? {}).filter(([, value]) => value !== null && value !== undefined);
    byId('extracted-block').hidden = extracted.length === 0;
    byId('extracted').replaceChildren(...extracted.flatMap(([name, value]) => [h('dt', {}, name), h('dd', { dir: 'auto' }, typeof value === 'string' ? value : JSON.stringify(value))]));
  }
}

/**
 * @param {{ speaker: string; text: string; at: string; interrupted: boolean }} turn
 * @param {boolean} [partial] still being spoken
 */
function turnElement(turn, partial = false) {
  const speaker = turn.speaker === 'agent' ? 'agent' : 'caller';
  return h(
    'li',
    { class: `turn turn-${speaker}${partial ? ' turn-partial' : ''}`, 'data-key': `${turn.speaker}|${turn.at}`, 'data-speaker': speaker },
    h('span', { class: 'speaker' }, t(speaker === 'agent' ? 'speaker.agent' : 'speaker.caller')),
    turn.at ? h('time', { datetime: turn.at }, formatTime(turn.at)) : null,
    turn.interrupted ? h('span', { class: 'badge' }, t('transcript.interrupted')) : null,
    // dir=auto: each line takes the direction of its own text, whatever the UI language.
    h('p', { class: 'turn-text', dir: 'auto' }, turn.text),
  );
}

/**
 * One line of the timeline, its values isolated for direction (see `tx`).
 *
 * @param {TimelineEvent} event
 * @returns {(string | HTMLElement)[]}
 */
export function describeEvent(event) {
  switch (event.type) {
    case 'tool.called':
      return tx('event.tool.called', { name: event.name });
    case 'tool.result':
      return tx('event.tool.result', { name: event.name, outcome: t(event.failed ? 'event.tool.failed' : 'event.tool.ok') });
    case 'lead.captured':
      // Each value a chip of its own: no separator for the bidi algorithm to misplace.
      return [t('event.lead.captured'), ...Object.values(event.fields).flat().flatMap((value) => [' ', h('bdi', { class: 'chip' }, String(value))])];
    case 'watchdog.reprompt':
      return tx('event.watchdog.reprompt', { attempt: event.attempt });
    case 'key.pressed':
      return tx('event.key.pressed', { digit: event.digit });
    case 'call.closing':
      return tx('event.call.closing', { reason: reasonText(event.reason) });
    case 'call.transfer':
      return tx('event.call.transfer', { to: event.to ?? '—', outcome: t(event.ok ? 'event.tool.ok' : 'event.tool.failed') });
    case 'agent.failure':
      return tx('event.agent.failure', { problem: event.problem });
    case 'supervisor.action': {
      const key = /** @type {const} */ ({ whisper: 'event.supervisor.whisper', transfer: 'event.supervisor.transfer', hangup: 'event.supervisor.hangup' })[/** @type {'whisper' | 'transfer' | 'hangup'} */ (event.action)];
      const text = key ? tx(key, { detail: event.detail ?? '' }) : [String(event.action)];
      return event.acted ? text : [...text, ' ', ...tx('event.notActed', { error: event.error ?? '' })];
    }
    case 'call.ended':
      return tx('event.call.ended', { reason: reasonText(event.reason) });
    default:
      return [tOr(`event.${event.type}`, event.type)];
  }
}

/** @param {HTMLElement | null} element */
function isScrolledToEnd(element) {
  return !element || element.scrollHeight - element.scrollTop - element.clientHeight < 40;
}

/** @param {HTMLElement | null} element */
function scrollToEnd(element) {
  if (element) element.scrollTop = element.scrollHeight;
}
