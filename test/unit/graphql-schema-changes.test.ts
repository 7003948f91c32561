import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { changeCoordinate, checkSchemaChanges, listedBreakingChanges } from '../support/schema-changes.ts';

/**
 * A CRM's queries must keep working across releases. schema.graphql (what the code serves,
 * schema.test.ts) is compared with schema/released.graphql (the last release); a breaking
 * change fails here unless CHANGELOG.md's Unreleased section lists its schema coordinate in
 * backticks under `### Breaking`. On a release, copy schema.graphql to schema/released.graphql.
 */

const read = (path: string) => readFileSync(new URL(path, import.meta.url), 'utf8');

describe('schema.graphql against the released schema', () => {
  it('breaks nothing that CHANGELOG.md does not list under Unreleased → Breaking', () => {
    const report = checkSchemaChanges(read('../../schema/released.graphql'), read('../../schema.graphql'), read('../../CHANGELOG.md'));
    // Not failures: a client with an exhaustive switch over an enum or union may meet a new member.
    for (const change of report.dangerous) console.warn(`dangerous schema change: ${change.type}: ${change.description}`);
    const unlisted = report.unlisted.map((change) => `${change.coordinate} — ${change.description}`);
    expect(unlisted, 'list each coordinate, in backticks, under "### Breaking" in "## [Unreleased]" of CHANGELOG.md (or keep the field)').toEqual([]);
  });
});

describe('the schema-change check', () => {
  const released = /* GraphQL */ `
    type Query { calls: [Call!]! }
    type Call { id: ID!, summary: String, status: CallStatus! }
    enum CallStatus { RINGING COMPLETED }
  `;
  const withoutSummary = released.replace('summary: String,', '');
  const changelogWith = (breaking: string) => `# Changelog\n\n## [Unreleased]\n\n### Added\n\n- \`Call.duration\`\n\n### Breaking\n\n${breaking}\n\n## [0.1.0] - 2026-12-04\n\n### Breaking\n\n- \`Call.summary\`\n`;

  it('fails on a removed field that the changelog does not list', () => {
    const report = checkSchemaChanges(released, withoutSummary, changelogWith('None.'));
    expect(report.unlisted.map((change) => [change.type, change.coordinate])).toEqual([['FIELD_REMOVED', 'Call.summary']]);
  });

  it('passes it once Unreleased → Breaking names it (an older release naming it does not count)', () => {
    const report = checkSchemaChanges(released, withoutSummary, changelogWith('- `Call.summary`: removed; read `Call.transcript`.'));
    expect(report.unlisted).toEqual([]);
    expect(report.listed.map((change) => change.coordinate)).toEqual(['Call.summary']);
  });

  it('reports an added enum value as dangerous, not breaking', () => {
    const report = checkSchemaChanges(released, released.replace('COMPLETED }', 'COMPLETED FAILED }'), changelogWith('None.'));
    expect(report.unlisted).toEqual([]);
    expect(report.dangerous.map((change) => change.type)).toEqual(['VALUE_ADDED_TO_ENUM']);
  });

  it('names each kind of breaking change by its schema coordinate', () => {
    const before = /* GraphQL */ `
      type Query { calls(first: Int): [Call!]!, lead: Lead }
      type Call { id: ID! }
      type Lead { id: ID! }
      union Party = Call | Lead
      enum Status { A B }
      input Filter { city: String }
    `;
    const after = /* GraphQL */ `
      type Query { calls: [Call!]!, lead(id: ID!): Lead }
      type Call { id: ID! }
      type Lead { id: String! }
      union Party = Call
      enum Status { A }
      input Filter { city: String, status: Status! }
    `;
    const report = checkSchemaChanges(before, after, changelogWith(''));
    expect(report.unlisted.map((change) => change.coordinate).toSorted()).toEqual(
      ['Filter.status', 'Int', 'Lead', 'Lead.id', 'Query.calls(first:)', 'Query.lead(id:)', 'Status.B'].toSorted(),
    );
  });

  it('reads only the backticked coordinates of Unreleased → Breaking', () => {
    expect([...listedBreakingChanges(changelogWith('- `Call.summary` and `Query.calls(first:)` removed.'))]).toEqual(['Call.summary', 'Query.calls(first:)']);
    expect([...listedBreakingChanges('# Changelog\n\n## [0.1.0]\n\n### Breaking\n\n- `Call.summary`\n')]).toEqual([]);
    expect(changeCoordinate('Field Call.summary was removed.')).toBe('Call.summary');
  });
});
