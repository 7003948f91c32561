import type { DocumentNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/**
 * Yoga's parse cache, bounded by what the documents cost. Yoga's default is an LRU of 1024
 * entries, counted not sized: a parsed document keeps every token of its source (about
 * 250–420 bytes each, locations included), so 1024 anonymous documents of 5000 tokens hold
 * about 2 GB (security review F1). Here the cache holds at most `maxEntries` documents and
 * `maxTokens` tokens in all, comments included; the least recently used go first.
 *
 * Only documents that passed validation are kept: yoga hands a document to `set` when it
 * has parsed it, and it waits in a WeakMap (gone with the request if it fails) until
 * `documentCachePlugin` reports it valid. Documents that fail to parse are never kept
 * (`noErrorCache`), so neither refused, malformed nor invalid documents take a place.
 */
export interface DocumentCacheLimits {
  maxEntries: number;
  maxTokens: number;
}

/** About 20 MB of parsed documents at worst; a CRM's few dozen operations fit many times over. */
export const documentCacheLimits: DocumentCacheLimits = { maxEntries: 1000, maxTokens: 50_000 };

interface Entry {
  document: DocumentNode;
  tokens: number;
}

export class DocumentCache {
  readonly #limits: DocumentCacheLimits;
  /** In least recently used order: a Map iterates in insertion order, and a hit re-inserts. */
  readonly #entries = new Map<string, Entry>();
  /** Parsed, not yet validated: document → its source text. */
  readonly #pending = new WeakMap<DocumentNode, string>();
  #tokens = 0;

  constructor(limits: DocumentCacheLimits = documentCacheLimits) {
    this.#limits = limits;
  }

  /** Documents held. */
  get size(): number {
    return this.#entries.size;
  }

  /** Tokens of the documents held, comments included. */
  get tokens(): number {
    return this.#tokens;
  }

  get(source: string): DocumentNode | undefined {
    const entry = this.#entries.get(source);
    if (!entry) return undefined;
    this.#entries.delete(source);
    this.#entries.set(source, entry);
    return entry.document;
  }

  /** Yoga calls this for every document it parsed; it is held only once `admit` says it is valid. */
  set(source: string, document: DocumentNode): void {
    this.#pending.set(document, source);
  }

  /** Keeps a parsed document that passed validation; the least recently used make room. */
  admit(document: DocumentNode): void {
    const source = this.#pending.get(document);
    if (source === undefined) return;
    this.#pending.delete(document);
    const tokens = tokensOf(document);
    if (tokens > this.#limits.maxTokens || this.#entries.has(source)) return;
    this.#entries.set(source, { document, tokens });
    this.#tokens += tokens;
    for (const [oldest, entry] of this.#entries) {
      if (this.#entries.size <= this.#limits.maxEntries && this.#tokens <= this.#limits.maxTokens) break;
      this.#entries.delete(oldest);
      this.#tokens -= entry.tokens;
    }
  }
}

/** Yoga's cache of parse errors, which would keep every malformed document as a key: keeps nothing. */
export const noErrorCache = {
  get: (): undefined => undefined,
  set: (): void => {},
};

/** Admits a parsed document into `cache` once it has passed validation. */
export function documentCachePlugin(cache: DocumentCache): Plugin {
  return {
    onValidate({ params }) {
      return ({ valid }) => {
        if (valid) cache.admit(params.documentAST);
      };
    },
  };
}

/**
 * Tokens the document keeps alive: the parser links every token of the source, comments
 * too, from `loc.startToken`. Without locations, the parser's own count.
 */
function tokensOf(document: DocumentNode): number {
  let count = 0;
  for (let token = document.loc?.startToken ?? null; token; token = token.next) count += 1;
  return count > 0 ? count : (document.tokenCount ?? 1);
}
