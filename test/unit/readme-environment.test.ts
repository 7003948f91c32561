import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { environmentDefaults } from '../../src/core/config.ts';

/** The README's environment table is the operator's reference: it must name what the schema reads, with its defaults. */

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const section = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('\n## ', readme.indexOf('## Configuration') + 1));
/** `| \`NAME\` ★ | default | meaning |` rows, by name. */
const rows = new Map(
  [...section.matchAll(/^\| `([A-Z][A-Z0-9_]*)`(?: ★)? \| ([^|]*) \|/gm)].map((row) => [row[1] ?? '', (row[2] ?? '').trim()]),
);

describe('README environment table', () => {
  const defaults = environmentDefaults();

  it('lists every variable the configuration reads, and no other', () => {
    expect(rows.size).toBeGreaterThan(20);
    expect([...rows.keys()].toSorted()).toEqual(Object.keys(defaults).toSorted());
  });

  it('gives each default as the configuration has it', () => {
    const wrong = Object.entries(defaults)
      .filter(([, value]) => ['string', 'number', 'boolean'].includes(typeof value))
      .filter(([name, value]) => !(rows.get(name) ?? '').includes(`\`${String(value)}\``))
      .map(([name, value]) => `${name}: README says ${rows.get(name) ?? 'nothing'}, the configuration ${String(value)}`);
    expect(wrong).toEqual([]);
  });
});
