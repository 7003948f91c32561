import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { walls, type Wall } from '../../architecture.ts';

/** The walls of architecture.ts, held against every import of src/. */

const root = resolve(import.meta.dirname, '../..');

interface Edge {
  from: string;
  to: string;
}

/** Relative import specifiers of a module: static imports and re-exports (type-only too), side-effect and dynamic imports. */
export function importSpecifiers(source: string): string[] {
  const patterns = [/^(?:import|export)\s[^;]*?\sfrom\s+'([^']+)'/gm, /^import\s+'([^']+)'/gm, /\bimport\(\s*'([^']+)'\s*\)/g];
  return patterns.flatMap((pattern) => [...source.matchAll(pattern)].map((match) => match[1] ?? '')).filter((specifier) => specifier.startsWith('.'));
}

function sourceFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return path === 'src/monitor/public' ? [] : sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

function edgesOf(files: string[]): Edge[] {
  return files.flatMap((file) =>
    importSpecifiers(readFileSync(join(root, file), 'utf8')).map((specifier) => ({
      from: file,
      to: relative(root, resolve(root, dirname(file), specifier)),
    })),
  );
}

function breaches(edges: Edge[], rules: Wall[]): string[] {
  return edges.flatMap((edge) =>
    rules
      .filter((wall) => wall.from.test(edge.from) && !(wall.fromNot?.test(edge.from) ?? false) && wall.to.test(edge.to))
      .map((wall) => `${edge.from} → ${edge.to}: "${wall.name}" — ${wall.why}`),
  );
}

describe('the architecture’s walls (architecture.ts)', () => {
  const edges = edgesOf(sourceFiles('src'));

  it('reads the imports of every source file', () => {
    expect(edges.length).toBeGreaterThan(500);
    // Multi-line, type-only and dynamic imports are seen.
    expect(importSpecifiers("import {\n  a,\n  type B,\n} from './a.ts';\nimport type { C } from '../c.ts';\nconst d = await import('./d.ts');\nexport * from './e.ts';\nimport 'zod';")).toEqual([
      './a.ts',
      '../c.ts',
      './e.ts',
      './d.ts',
    ]);
  });

  it('holds in the tree: no import crosses a wall', () => {
    expect(breaches(edges, walls)).toEqual([]);
  });

  // Each wall stops the crossing it names: a rule whose pattern matched nothing would pass forever.
  const crossings: Record<string, Edge> = {
    'core is the ground floor': { from: 'src/core/db.ts', to: 'src/entities/index.ts' },
    'entities import only core': { from: 'src/entities/call.repository.ts', to: 'src/realtime/call-outcome.ts' },
    'the dialer imports only core and entities': { from: 'src/dialer/dial-attempts.ts', to: 'src/realtime/call-outcome.ts' },
    'loaders import only entities and core': { from: 'src/loaders/index.ts', to: 'src/schema/context.ts' },
    'realtime never imports the schema': { from: 'src/realtime/index.ts', to: 'src/schema/call.ts' },
    'workers talk through rows, jobs and the bus': { from: 'src/workers/pipeline/reprocess.ts', to: 'src/realtime/call-outcome.ts' },
    'only the composition root starts workers': { from: 'src/schema/call.ts', to: 'src/workers/pipeline/process-call.ts' },
    'only the transport imports the schema': { from: 'src/realtime/twilio-line/twilio-webhooks.ts', to: 'src/schema/context.ts' },
    'the product never imports the stand-ins': { from: 'src/server.ts', to: 'src/sandbox/ports.ts' },
  };

  it.each(walls.map((wall) => [wall.name, wall] as const))('"%s" stops the crossing it names', (name, wall) => {
    const crossing = crossings[name];
    expect(crossing, `add a crossing for "${name}"`).toBeDefined();
    expect(breaches([crossing as Edge], [wall])).toHaveLength(1);
  });
});
