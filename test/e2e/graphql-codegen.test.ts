import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { codegen } from '@graphql-codegen/core';
import * as typescriptOperations from '@graphql-codegen/typescript-operations';
import { buildSchema, parse, validate } from 'graphql';
import { describe, expect, it } from 'vitest';
import config from '../../examples/codegen/codegen.ts';

/**
 * README's typed-client example is real: GraphQL Code Generator's typescript-operations
 * plugin, with examples/codegen/codegen.ts as it stands, turns schema.graphql and the
 * example operations into types, and the TypeScript compiler accepts the example client
 * that uses them (strict, as this repo compiles). A schema change that breaks the example's
 * operations fails here, as it would fail a CRM's build.
 */

const example = new URL('../../examples/codegen/', import.meta.url);
const tsc = fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url));

/**
 * Compiled with the generated types: fails unless they are specific — a field the
 * operation does not select is a type error, and the result union is narrowed by __typename.
 */
const typesCheck = `import type { CreateLeadMutation, RecentCallsQuery } from './operations.ts';

export function notSelected(data: RecentCallsQuery) {
  // @ts-expect-error: the operation does not select transcript
  return data.calls.nodes[0]?.transcript;
}

export function narrowed(result: CreateLeadMutation['createLead']): string {
  // @ts-expect-error: only a Lead has a phone
  const phone: string = result.phone;
  return result.__typename === 'Lead' ? result.phone : phone;
}
`;

describe('typed clients with GraphQL Code Generator (examples/codegen)', () => {
  it('generates types from schema.graphql that the example client compiles against', { timeout: 60_000 }, async () => {
    const schema = parse(readFileSync(new URL(config.schema, example), 'utf8'));
    const documents = config.documents.map((location) => ({ location, document: parse(readFileSync(new URL(location, example), 'utf8')) }));
    for (const [filename, output] of Object.entries(config.generates)) {
      const generated = await codegen({
        filename,
        schema,
        documents,
        config: output.config,
        plugins: output.plugins.map((name) => ({ [name]: {} })),
        pluginMap: { 'typescript-operations': typescriptOperations },
      });
      expect(generated).toContain('export type RecentCallsQuery');
      const file = new URL(filename, example);
      mkdirSync(dirname(fileURLToPath(file)), { recursive: true });
      writeFileSync(file, generated);
      writeFileSync(new URL('types.check.ts', file), typesCheck);
    }

    const compiled = await promisify(execFile)(process.execPath, [tsc, '--noEmit', '-p', fileURLToPath(example)]).then(
      () => '',
      (error: { stdout?: string; message: string }) => error.stdout || error.message,
    );
    expect(compiled).toBe('');
  });

  it('shows in README an operation that is valid against schema.graphql', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const operation = /\*\*Typed clients\.\*\*[\s\S]*?```graphql\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(operation).toContain('query RecentCalls');
    const schema = buildSchema(readFileSync(new URL('../../schema.graphql', import.meta.url), 'utf8'));
    expect(validate(schema, parse(operation ?? '')).map((error) => error.message)).toEqual([]);
  });
});
