import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The `calls` row has one owner, src/entities/call-record.ts: every write to the table and
 * every status rule is there (issue 19). This check keeps it so — it fails when a file in
 * src/ outside the owner writes the table: through Kysely, the ORM, raw SQL, or by changing
 * a managed Call entity's columns.
 */

const root = join(import.meta.dirname, '../..');
const owner = 'src/entities/call-record.ts';

/** What a write to `calls` looks like, by way. */
const writes: { way: string; pattern: RegExp }[] = [
  { way: 'Kysely', pattern: /\b(updateTable|insertInto|deleteFrom|mergeInto)\(\s*['"]Call['"]/ },
  { way: 'ORM', pattern: /\b(create|nativeUpdate|nativeDelete|upsert|upsertMany|insert|insertMany|assign)\(\s*Call\b/ },
  { way: 'raw SQL', pattern: /\bupdate\s+"?calls"?\s+set\b|\binsert\s+into\s+"?calls"?\s*\(|\bdelete\s+from\s+"?calls"?(?![\w-])/i },
];

/** A column of the row set on a managed entity — only counted in files that load the Call entity itself. */
const entityAssignment = /\.(status|endReason|endedAt|startedAt|durationSec|transcriptTurns|timeline|recordingSid|recordingUrl|answeredBy|pipelineStatus|pipelineRevision|contentDeletedAt|recordingDeletedAt)\s*=(?![=>])/;
const importsCallEntity = /import\s*\{[^}]*(?<!type\s)\bCall\b[^}]*\}\s*from\s*['"][./]*(entities\/)?call\.entity\.ts['"]/;

/** The ways `source` writes the calls table (empty when it does not). */
function callWrites(source: string): string[] {
  const found = writes.filter(({ pattern }) => pattern.test(source)).map(({ way }) => way);
  if (importsCallEntity.test(source) && entityAssignment.test(source)) found.push('managed entity');
  return found;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.(ts|js)$/.test(entry.name) ? [relative(root, path)] : [];
  });
}

describe('the call row’s owner', () => {
  it.each([
    [`sql(em).updateTable('Call').set({ status })`, ['Kysely']],
    [`await sql(tx).insertInto("Call").values(row)`, ['Kysely']],
    [`em.create(Call, { callSid })`, ['ORM']],
    [`em.nativeUpdate(Call, { id }, { status: 'failed' })`, ['ORM']],
    [`em.execute('update calls set status = ? where id = ?')`, ['raw SQL']],
    [`em.execute('UPDATE "calls" SET "end_reason" = ?')`, ['raw SQL']],
    [`import { Call } from '../entities/call.entity.ts';\nconst call = await em.findOneOrFail(Call, { id });\ncall.status = 'failed';`, ['managed entity']],
    [`sql(em).selectFrom('Call').selectAll()`, []],
    [`// the agent calls update calls of tools`, []],
    [`import type { Call } from '../entities/call.entity.ts';\ncall.pipelineSteps = {};\nrun.call.status = 'ringing';`, []],
  ])('recognises a write: %s', (source, ways) => {
    expect(callWrites(source)).toEqual(ways);
  });

  it('recognises the owner’s own writes (the patterns are not dead)', () => {
    expect(callWrites(readFileSync(join(root, owner), 'utf8'))).toEqual(expect.arrayContaining(['Kysely']));
  });

  it('no file in src/ but the owner writes the calls table', () => {
    const offenders = sourceFiles(join(root, 'src'))
      .filter((file) => file !== owner)
      .map((file) => ({ file, ways: callWrites(readFileSync(join(root, file), 'utf8')) }))
      .filter(({ ways }) => ways.length > 0);
    expect(offenders).toEqual([]);
  });
});
