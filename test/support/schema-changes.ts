import {
  BreakingChangeType,
  DangerousChangeType,
  buildSchema,
  findSchemaChanges,
  type BreakingChange,
  type DangerousChange,
  type SchemaChange,
} from 'graphql';

/**
 * The schema-change check behind test/unit/graphql-schema-changes.test.ts. graphql-js compares
 * the released SDL with the current one; a breaking change passes only when CHANGELOG.md's
 * Unreleased section lists its schema coordinate, in backticks, under `### Breaking`.
 */

const breakingTypes = new Set<string>(Object.values(BreakingChangeType));
const dangerousTypes = new Set<string>(Object.values(DangerousChangeType));

/** Words graphql-js puts before the coordinate ("Field Call.summary was removed."). */
const prose = new Set(['A', 'An', 'Argument', 'Field', 'Enum', 'Directive', 'Repeatable', 'Description', 'Standard']);
const coordinatePattern = /^@?[A-Za-z_]\w*(\.\w+)?(\(\w+:\))?$/;

/**
 * The schema coordinate a change is about: the first one its description names —
 * `Call`, `Call.summary`, `Query.calls(first:)`, `CallStatus.BUSY`, `@deprecated`. For a
 * member removed from a union, the member (`Lead` in "Lead was removed from union type X.").
 */
export function changeCoordinate(description: string): string {
  for (const word of description.split(/\s+/)) {
    const token = word.replace(/[.,]$/, '');
    if (!prose.has(token) && /^[@A-Z]/.test(token) && coordinatePattern.test(token)) return token;
  }
  return description;
}

/** The coordinates in backticks under `### Breaking` in the `## [Unreleased]` section. */
export function listedBreakingChanges(changelog: string): Set<string> {
  const unreleased = section(changelog, /^## \[Unreleased\][^\n]*$/m, /^## /m);
  const breaking = unreleased === null ? null : section(unreleased, /^### Breaking[^\n]*$/m, /^### /m);
  return new Set([...(breaking ?? '').matchAll(/`([^`\n]+)`/g)].map((match) => match[1] ?? ''));
}

/** The text after the heading `start` up to the next heading `end` (or the end). */
function section(text: string, start: RegExp, end: RegExp): string | null {
  const heading = start.exec(text);
  if (!heading) return null;
  const body = text.slice(heading.index + heading[0].length);
  const next = end.exec(body);
  return next ? body.slice(0, next.index) : body;
}

export interface SchemaChangeReport {
  /** Breaking changes the changelog does not list: the check fails on these. */
  unlisted: (BreakingChange & { coordinate: string })[];
  /** Breaking changes the changelog lists. */
  listed: (BreakingChange & { coordinate: string })[];
  /** Changes that may surprise a client (an enum value or union member added, …): warnings only. */
  dangerous: DangerousChange[];
}

/** Compares two SDL texts and sorts the breaking changes by whether `changelog` lists them. */
export function checkSchemaChanges(releasedSdl: string, currentSdl: string, changelog: string): SchemaChangeReport {
  const changes: SchemaChange[] = findSchemaChanges(buildSchema(releasedSdl), buildSchema(currentSdl));
  const listed = listedBreakingChanges(changelog);
  const breaking = changes
    .filter((change): change is BreakingChange => breakingTypes.has(change.type))
    .map((change) => ({ ...change, coordinate: changeCoordinate(change.description) }));
  return {
    unlisted: breaking.filter((change) => !listed.has(change.coordinate)),
    listed: breaking.filter((change) => listed.has(change.coordinate)),
    dangerous: changes.filter((change): change is DangerousChange => dangerousTypes.has(change.type)),
  };
}
