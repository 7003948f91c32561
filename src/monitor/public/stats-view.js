import { ApiError } from './api.js';
import { gridLines, niceCeiling } from './chart.js';
import { byId, h, svg } from './dom.js';
import { formatDay, formatMs, formatNumber, formatUsd, startOfDay, t, zoneDay } from './i18n.js';
import { callStatsQuery } from './queries.js';

/**
 * The Stats view: the business's calls over the last 7 or 30 days of its time zone, drawn
 * from `callStats` — calls per day stacked by outcome, turn latency p50/p95 per day, and the
 * period's totals with its estimated cost.
 *
 * Time runs left to right in Hebrew too. Hebrew writes numbers and dates left to right, and
 * Hebrew business and statistics charts commonly keep the time axis that way; mirroring it
 * would also put the same day in a different place after a language switch. The text
 * around the charts (headings, legend, totals) follows the page's direction; the charts'
 * tables give screen readers the days oldest first in either language.
 */

/**
 * @typedef {{
 *   day: string; calls: number; completed: number; failed: number; estimatedCostUsd: number | null;
 *   turnLatencyP50Ms: number | null; turnLatencyP95Ms: number | null;
 * }} CallDay
 * @typedef {{
 *   total: number; byStatus: { status: string; count: number }[];
 *   turnLatencyP50Ms: number | null; turnLatencyP95Ms: number | null; estimatedCostUsd: number | null;
 *   byDay: CallDay[];
 * }} CallStats
 */

/** Each chart's box (viewBox units) and its margins for the axes' labels. */
const { width, height, left, right, top, bottom } = { width: 640, height: 200, left: 48, right: 12, top: 10, bottom: 22 };
const outcomes = /** @type {const} */ (['completed', 'other', 'failed']);

export class StatsView {
  /** @type {7 | 30} */
  #days = 7;
  /** @type {CallStats | undefined} */
  #stats;
  /** @type {string | undefined} the last load's error, in words */
  #error;
  /** Only the newest request may draw: an older answer arriving late is dropped. */
  #request = 0;
  /** @type {(() => import('./api.js').Api | undefined)} */
  #api;

  /** @param {() => import('./api.js').Api | undefined} api */
  constructor(api) {
    this.#api = api;
    byId('stats-range').addEventListener('change', (event) => {
      const value = Number(/** @type {HTMLInputElement} */ (event.target).value);
      this.#days = value === 30 ? 30 : 7;
      void this.load();
    });
  }

  /** Reads the period's stats again and draws them. */
  async load() {
    const api = this.#api();
    if (!api) return;
    const request = ++this.#request;
    const from = startOfDay(zoneDay(-(this.#days - 1)));
    const to = startOfDay(zoneDay(1));
    byId('stats-view').setAttribute('aria-busy', 'true');
    try {
      const { callStats } = await api.request(callStatsQuery, { from: from.toISOString(), to: to.toISOString() });
      if (request !== this.#request) return;
      this.#stats = callStats;
      this.#error = undefined;
    } catch (error) {
      if (request !== this.#request) return;
      this.#stats = undefined;
      this.#error = error instanceof ApiError && error.code === 'FORBIDDEN' ? t('stats.forbidden') : t('stats.loadFailed', { error: error instanceof Error ? error.message : String(error) });
    }
    byId('stats-view').removeAttribute('aria-busy');
    this.render();
  }

  /** Draws from the last answer (after a load, and after a language change). */
  render() {
    const status = byId('stats-status');
    status.textContent = this.#error ?? '';
    status.dataset.tone = this.#error ? 'error' : 'info';
    const stats = this.#stats;
    byId('stats-content').hidden = stats === undefined;
    if (!stats) return;
    const days = stats.byDay;
    byId('stats-period').textContent = days.length ? t('stats.period', { from: formatDay(days[0]?.day ?? ''), to: formatDay(days.at(-1)?.day ?? '') }) : '';
    byId('stats-empty').hidden = stats.total > 0;
    const count = (/** @type {string} */ status) => stats.byStatus.find((entry) => entry.status === status)?.count ?? 0;
    const completed = count('COMPLETED');
    const failed = count('FAILED');
    byId('stats-totals').replaceChildren(
      total('calls', stats.total, formatNumber(stats.total)),
      total('completed', completed, formatNumber(completed)),
      total('failed', failed, formatNumber(failed)),
      total('other', stats.total - completed - failed, formatNumber(stats.total - completed - failed)),
      total('p50', stats.turnLatencyP50Ms, formatMs(stats.turnLatencyP50Ms)),
      total('p95', stats.turnLatencyP95Ms, formatMs(stats.turnLatencyP95Ms)),
      total('cost', stats.estimatedCostUsd, formatUsd(stats.estimatedCostUsd)),
    );
    const label = { days: formatNumber(days.length), total: formatNumber(stats.total), completed: formatNumber(completed), failed: formatNumber(failed), other: formatNumber(stats.total - completed - failed) };
    byId('stats-calls-chart').replaceChildren(callsChart(days, t('stats.callsLabel', label)));
    const measured = days.filter((day) => day.turnLatencyP50Ms !== null);
    byId('stats-latency-none').hidden = measured.length > 0;
    byId('stats-latency-chart').replaceChildren(latencyChart(days, t('stats.latencyLabel', { days: formatNumber(days.length), p50: formatMs(stats.turnLatencyP50Ms), p95: formatMs(stats.turnLatencyP95Ms) })));
    byId('stats-rows').replaceChildren(
      ...days.map((day) =>
        h('tr', {}, h('th', { scope: 'row' }, formatDay(day.day, { weekday: true })), ...[formatNumber(day.calls), formatNumber(day.completed), formatNumber(day.failed), formatNumber(other(day)), formatMs(day.turnLatencyP50Ms), formatMs(day.turnLatencyP95Ms), formatUsd(day.estimatedCostUsd)].map((cell) => h('td', {}, cell))),
      ),
    );
  }
}

/** @param {CallDay} day */
const other = (day) => day.calls - day.completed - day.failed;

/**
 * One total: its figure as shown, and its exact value (empty for none) for machines.
 *
 * @param {string} name
 * @param {number | null} value
 * @param {string} shown
 */
function total(name, value, shown) {
  return h('div', { class: `total total-${name}`, 'data-total': name, 'data-value': value ?? '' }, h('dt', {}, t(/** @type {any} */ (`stats.total.${name}`))), h('dd', {}, h('bdi', {}, shown)));
}

/**
 * Where each day sits on the time axis, and its labels: every day of a week, every fifth
 * (counted back from today) of a month.
 *
 * @param {CallDay[]} days
 */
function dayAxis(days) {
  const slot = (width - left - right) / Math.max(days.length, 1);
  const x = (/** @type {number} */ index) => left + slot * index;
  const every = days.length > 10 ? 5 : 1;
  const labels = days.flatMap((day, index) =>
    (days.length - 1 - index) % every === 0 ? [svg('text', { class: 'tick', x: x(index) + slot / 2, y: height - 6, 'text-anchor': 'middle' }, formatDay(day.day))] : [],
  );
  return { slot, x, labels, baseline: svg('line', { class: 'baseline', x1: left, x2: width - right, y1: height - bottom, y2: height - bottom }) };
}

/**
 * @param {CallDay[]} days
 * @param {string} label
 */
function callsChart(days, label) {
  const axis = dayAxis(days);
  const max = niceCeiling(Math.max(1, ...days.map((day) => day.calls)));
  const y = (/** @type {number} */ value) => top + (height - top - bottom) * (1 - value / max);
  const ticks = max >= 2 && max % 2 === 0 ? [0, max / 2, max] : [0, max];
  const bar = Math.max(axis.slot * 0.65, 1);
  const groups = days.map((day, index) => {
    const values = { completed: day.completed, failed: day.failed, other: other(day) };
    let level = 0;
    const rects = outcomes.flatMap((outcome) => {
      const value = values[outcome];
      if (value === 0) return [];
      const rect = svg('rect', { class: `bar-${outcome}`, 'data-outcome': outcome, 'data-count': value, x: axis.x(index) + (axis.slot - bar) / 2, y: y(level + value), width: bar, height: y(level) - y(level + value) });
      level += value;
      return [rect];
    });
    const title = `${formatDay(day.day, { weekday: true })}: ${t('stats.dayCalls', { calls: formatNumber(day.calls), completed: formatNumber(day.completed), failed: formatNumber(day.failed), other: formatNumber(other(day)) })}`;
    return svg('g', { 'data-day': day.day, 'data-calls': day.calls, 'data-completed': day.completed, 'data-failed': day.failed, 'data-other': other(day) }, svg('title', {}, title), ...rects);
  });
  return svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': label, direction: 'ltr', class: 'chart-svg' }, ...gridLines({ values: ticks, y, x1: left, x2: width - right, label: formatNumber }), ...groups, axis.baseline, ...axis.labels);
}

/**
 * p50 and p95 per day: a dot each, joined across consecutive measured days (a day
 * without turns breaks the line rather than inventing a value).
 *
 * @param {CallDay[]} days
 * @param {string} label
 */
function latencyChart(days, label) {
  const axis = dayAxis(days);
  const max = niceCeiling(Math.max(1, ...days.map((day) => day.turnLatencyP95Ms ?? day.turnLatencyP50Ms ?? 0)));
  const y = (/** @type {number} */ value) => top + (height - top - bottom) * (1 - value / max);
  const centre = (/** @type {number} */ index) => axis.x(index) + axis.slot / 2;
  /** @type {SVGElement[]} */
  const lines = [];
  for (const key of /** @type {const} */ (['turnLatencyP50Ms', 'turnLatencyP95Ms'])) {
    /** @type {string[][]} */
    const runs = [[]];
    days.forEach((day, index) => {
      const value = day[key];
      if (value === null) runs.push([]);
      else runs.at(-1)?.push(`${centre(index).toFixed(1)},${y(value).toFixed(1)}`);
    });
    const d = runs.filter((run) => run.length > 0).map((run) => `M${run.join('L')}`).join(' ');
    if (d) lines.push(svg('path', { class: key === 'turnLatencyP50Ms' ? 'line-p50' : 'line-p95', d }));
  }
  const points = days.flatMap((day, index) => {
    const { turnLatencyP50Ms: p50, turnLatencyP95Ms: p95 } = day;
    if (p50 === null) return [];
    const title = `${formatDay(day.day, { weekday: true })}: p50 ${formatMs(p50)}, p95 ${formatMs(p95)}`;
    return [
      svg('g', { 'data-day': day.day, 'data-p50': p50, 'data-p95': p95 ?? '' }, svg('title', {}, title), svg('circle', { class: 'dot-p50', cx: centre(index), cy: y(p50), r: 3.5 }), p95 === null ? null : svg('circle', { class: 'dot-p95', cx: centre(index), cy: y(p95), r: 3.5 })),
    ];
  });
  return svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': label, direction: 'ltr', class: 'chart-svg' }, ...gridLines({ values: [0, max / 2, max], y, x1: left, x2: width - right, label: formatMs }), ...lines, axis.baseline, ...points, ...axis.labels);
}
