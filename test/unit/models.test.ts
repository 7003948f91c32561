import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/config.ts';

/**
 * The default models must outlive the next release: none may be among the values the
 * installed `openai` SDK marks deprecated (each with an announced shutdown date, after which
 * every caller would hear silence). Upgrading the SDK re-runs this against OpenAI's newest
 * deprecation list.
 */

const sdkResources = join(dirname(createRequire(import.meta.url).resolve('openai')), 'resources');
const declarations = readdirSync(sdkResources, { recursive: true, encoding: 'utf8' })
  .filter((file) => file.endsWith('.d.ts'))
  .map((file) => readFileSync(join(sdkResources, file), 'utf8'));

/**
 * The model names of every "Deprecated values:" JSDoc block in the SDK's declarations. A
 * block lists items `- "name", "name",\n  "name": Announced shutdown date: …`; only the
 * quoted names before an item's colon count, not anything its explanation quotes.
 */
function deprecatedModels(): Set<string> {
  const names = new Set<string>();
  for (const text of declarations) {
    for (const block of text.matchAll(/Deprecated values:\s*\n((?:[ \t]*\*(?!\/).*\n)+)/g)) {
      const lines = (block[1] ?? '').split('\n').map((line) => line.replace(/^\s*\*\s?/, ''));
      const items = lines.join('\n').split(/\n(?=- )/);
      for (const item of items) {
        const listed = /^-\s+((?:"[^"]+"\s*,?\s*)+):/.exec(item.trim())?.[1] ?? '';
        for (const name of listed.matchAll(/"([^"]+)"/g)) names.add(name[1] ?? '');
      }
    }
  }
  return names;
}

/** Every model name the SDK's type unions spell out as a literal, e.g. `| 'gpt-realtime-1.5'`. */
function knownModels(): Set<string> {
  const names = new Set<string>();
  for (const text of declarations) {
    for (const union of text.matchAll(/(?:model\??:|Model =)[^;\n]*/g)) {
      for (const name of union[0].matchAll(/'([^']+)'/g)) names.add(name[1] ?? '');
    }
  }
  return names;
}

const defaults = loadConfig({}, { persistDevSecrets: false }).openai;
const defaultModels = {
  OPENAI_REALTIME_MODEL: defaults.realtimeModel,
  OPENAI_INPUT_TRANSCRIBE_MODEL: defaults.inputTranscribeModel,
  OPENAI_TRANSCRIBE_MODEL: defaults.transcribeModel,
  OPENAI_TEXT_MODEL: defaults.textModel,
};

describe('default OpenAI models', () => {
  const deprecated = deprecatedModels();

  it("reads the SDK's deprecation lists (the names this project once used are in them)", () => {
    for (const name of ['gpt-realtime', 'gpt-realtime-2025-08-28', 'gpt-4.1-mini', 'gpt-4o-transcribe', 'whisper-1', 'gpt-5-mini', 'dall-e-3']) {
      expect(deprecated, name).toContain(name);
    }
    // An explanation's words are not names: "Not a supported model ID", "See https://…".
    for (const name of deprecated) expect(name).toMatch(/^[a-z0-9][a-z0-9.-]*$/);
  });

  it('uses no model the installed SDK marks deprecated', () => {
    const retiring = Object.entries(defaultModels).filter(([, model]) => deprecated.has(model));
    expect(retiring, 'defaults with an announced shutdown date').toEqual([]);
  });

  it('uses only models the SDK names in its type unions (no typos)', () => {
    const known = knownModels();
    expect(known).toContain('gpt-realtime-1.5');
    for (const [variable, model] of Object.entries(defaultModels)) expect(known, `${variable}=${model}`).toContain(model);
  });
});
