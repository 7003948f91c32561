import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { DocumentCache } from '../../src/graphql/document-cache.ts';

/** Security review F1: yoga's parse cache counted documents, not what they hold; this one is bounded by both. */

/** Parses `source` and hands it to the cache as yoga does; `valid` as validation would report. */
function parsed(cache: DocumentCache, source: string, valid = true) {
  const document = parse(source);
  cache.set(source, document);
  if (valid) cache.admit(document);
  return document;
}

describe('the parse cache', () => {
  it('keeps a document only once it has passed validation', () => {
    const cache = new DocumentCache({ maxEntries: 10, maxTokens: 1000 });
    parsed(cache, '{ nope }', false);
    expect(cache.get('{ nope }')).toBeUndefined();
    const valid = parsed(cache, '{ health { ready } }');
    expect(cache.get('{ health { ready } }')).toBe(valid);
    // Admitting a document the cache was not given, or one twice, changes nothing.
    cache.admit(parse('{ other }'));
    cache.admit(valid);
    expect(cache.size).toBe(1);
  });

  it('holds at most maxEntries documents, dropping the least recently used', () => {
    const cache = new DocumentCache({ maxEntries: 2, maxTokens: 1000 });
    parsed(cache, '{ a }');
    parsed(cache, '{ b }');
    cache.get('{ a }');
    parsed(cache, '{ c }');
    expect([cache.get('{ a }'), cache.get('{ b }'), cache.get('{ c }')].map(Boolean)).toEqual([true, false, true]);
    expect(cache.size).toBe(2);
  });

  it('holds at most maxTokens tokens, comments included, and never a document larger than that', () => {
    const cache = new DocumentCache({ maxEntries: 100, maxTokens: 12 });
    // `{ a }` is 5 tokens with the start and end of the source.
    parsed(cache, '{ a }');
    parsed(cache, '{ b }');
    expect(cache.tokens).toBe(10);
    parsed(cache, '# a comment\n{ c }');
    expect(cache.tokens).toBe(11);
    expect([cache.get('{ a }'), cache.get('{ b }'), cache.get('# a comment\n{ c }')].map(Boolean)).toEqual([false, true, true]);
    // 13 tokens.
    parsed(cache, '{ d e f g h i j k l }');
    expect(cache.get('{ d e f g h i j k l }')).toBeUndefined();
    expect(cache.size).toBe(2);
  });
});
