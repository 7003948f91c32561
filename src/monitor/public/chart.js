import { svg } from './dom.js';

/**
 * What the console's charts share: a rounded top for the value axis, and its grid lines.
 * Charts are drawn in a fixed viewBox and scale with their box; they take no colours of
 * their own — monitor.css paints them by class, so dark mode and print follow the page.
 */

/**
 * The smallest 1, 2 or 5 × 10ⁿ at or above `value` (a value axis' top).
 *
 * @param {number} value
 */
export function niceCeiling(value) {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) {
    if (step * power >= value) return step * power;
  }
  return 10 * power;
}

/**
 * Horizontal grid lines with their labels at the left end (the value axis stays on the
 * left in both languages, as the time axis runs left to right).
 *
 * @param {{ values: number[]; y: (value: number) => number; x1: number; x2: number; label: (value: number) => string }} axis
 */
export function gridLines({ values, y, x1, x2, label }) {
  return values.map((value) => svg('g', { class: 'axis' }, svg('line', { x1, x2, y1: y(value), y2: y(value) }), svg('text', { x: x1 - 4, y: y(value) + 3, 'text-anchor': 'end' }, label(value))));
}
