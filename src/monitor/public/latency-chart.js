import { byId, h, svg } from './dom.js';
import { formatMs, formatNumber, formatUsd, t, tx } from './i18n.js';
import { gridLines, niceCeiling } from './chart.js';

/**
 * A finished call's per-turn latency as a small bar chart: the greeting first (set apart),
 * then each turn's wait (the caller stops speaking → the agent's first audio), with the
 * call's p50 and p95 drawn across. Time runs left to right in both languages (see
 * stats-view.js for why). The picture has a spoken name (aria-label), and the same numbers
 * sit in a visually hidden table for screen readers.
 */

/**
 * @typedef {{
 *   greetingMs: number | null; turns: number; turnP50Ms: number | null; turnP95Ms: number | null;
 *   turnMaxMs: number | null; interruptions: number; turnMs: number[];
 * }} CallLatency
 */

/** The chart's box (viewBox units) and its margins for the axes' labels. */
const { width, height, left, right, top, bottom } = { width: 320, height: 140, left: 44, right: 26, top: 8, bottom: 16 };

/**
 * Draws the latency card of a call: the chart, a line of figures and the table — or, with
 * no latency, a muted line saying why: the call is live, it has just ended and its record
 * is being written (`ending`), or it was never measured (calls from before, or that ended
 * before the agent spoke).
 *
 * @param {{ latency: CallLatency | null; usage: { estimatedCostUsd: number } | null }} call
 * @param {'live' | 'ending' | 'ended'} state
 */
export function renderLatency(call, state) {
  const latency = call.latency;
  const none = byId('latency-none');
  none.hidden = latency !== null;
  none.textContent = latency ? '' : t(state === 'live' ? 'latency.live' : state === 'ending' ? 'latency.ending' : 'latency.none');
  byId('latency-chart').replaceChildren(...(latency ? [chart(latency)] : []));
  byId('latency-summary').replaceChildren(...(latency ? summary(latency, call.usage) : []));
  byId('latency-table').hidden = latency === null;
  byId('latency-rows').replaceChildren(...(latency ? rows(latency) : []));
}

/** @param {CallLatency} latency */
function chart(latency) {
  const greeting = latency.greetingMs;
  const maxMs = niceCeiling(Math.max(greeting ?? 0, ...latency.turnMs, latency.turnP95Ms ?? 0, 1));
  const y = (/** @type {number} */ ms) => top + (height - top - bottom) * (1 - ms / maxMs);
  const slots = latency.turnMs.length + (greeting === null ? 0 : 1.5);
  const slot = (width - left - right) / Math.max(slots, 1);
  const barWidth = Math.max(slot * 0.7, 1);
  const base = height - bottom;
  const parts = [
    ...gridLines({ values: [0, maxMs / 2, maxMs], y, x1: left, x2: width - right, label: formatMs }),
  ];
  let x = left + (slot - barWidth) / 2;
  if (greeting !== null) {
    parts.push(svg('rect', { class: 'bar-greeting', 'data-greeting': true, 'data-ms': greeting, x, y: y(greeting), width: barWidth, height: base - y(greeting) }, svg('title', {}, `${t('latency.greeting')}: ${formatMs(greeting)}`)));
    parts.push(svg('text', { class: 'tick', x: x + barWidth / 2, y: height - 3, 'text-anchor': 'middle' }, t('latency.greetingShort')));
    x += slot * 1.5;
  }
  const firstTurnX = x;
  latency.turnMs.forEach((ms, index) => {
    parts.push(svg('rect', { class: 'bar-turn', 'data-turn': index + 1, 'data-ms': ms, x, y: y(ms), width: barWidth, height: base - y(ms) }, svg('title', {}, `${t('latency.turn', { n: index + 1 })}: ${formatMs(ms)}`)));
    x += slot;
  });
  for (const [mark, ms] of /** @type {const} */ ([['p50', latency.turnP50Ms], ['p95', latency.turnP95Ms]])) {
    if (ms === null || latency.turnMs.length === 0) continue;
    parts.push(
      svg('g', { class: `mark mark-${mark}`, 'data-mark': mark, 'data-ms': ms }, svg('line', { x1: firstTurnX - 2, x2: width - right, y1: y(ms), y2: y(ms) }), svg('text', { x: width - right + 2, y: y(ms) + 3 }, mark), svg('title', {}, `${t(`latency.${mark}`)}: ${formatMs(ms)}`)),
    );
  }
  parts.push(svg('line', { class: 'baseline', x1: left, x2: width - right, y1: base, y2: base }));
  return svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': spoken(latency), direction: 'ltr', class: 'chart-svg' }, ...parts);
}

/** What the chart shows, in one sentence (its accessible name). @param {CallLatency} latency */
function spoken(latency) {
  return t('latency.label', { turns: formatNumber(latency.turnMs.length), p50: formatMs(latency.turnP50Ms), p95: formatMs(latency.turnP95Ms), max: formatMs(latency.turnMaxMs), greeting: formatMs(latency.greetingMs) });
}

/**
 * @param {CallLatency} latency
 * @param {{ estimatedCostUsd: number } | null} usage
 */
function summary(latency, usage) {
  const parts = [
    tx('latency.figures', { greeting: formatMs(latency.greetingMs), p50: formatMs(latency.turnP50Ms), p95: formatMs(latency.turnP95Ms), max: formatMs(latency.turnMaxMs) }),
    tx('latency.counts', { turns: formatNumber(latency.turns), interruptions: formatNumber(latency.interruptions) }),
  ];
  if (usage) parts.push(tx('latency.cost', { cost: formatUsd(usage.estimatedCostUsd) }));
  return parts.flatMap((part, index) => (index === 0 ? part : [' · ', ...part]));
}

/** @param {CallLatency} latency */
function rows(latency) {
  const row = (/** @type {string} */ label, /** @type {number} */ ms) => h('tr', {}, h('th', { scope: 'row' }, label), h('td', {}, formatMs(ms)));
  return [...(latency.greetingMs === null ? [] : [row(t('latency.greeting'), latency.greetingMs)]), ...latency.turnMs.map((ms, index) => row(t('latency.turn', { n: index + 1 }), ms))];
}
