import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestApp, type TestApp } from '../support/app.ts';
import { createTenant, useApiTenant, type Tenant } from '../support/graphql.ts';

/**
 * Security review F1 and F2: anonymous documents of a few hundred kilobytes filled yoga's
 * parse cache until the process died, and one 1.6 MB document blocked the event loop — and
 * every call's audio — for seconds. /graphql now refuses oversized work before parsing it,
 * over HTTP (POST and GET), SSE and graphql-ws, and caches only documents that passed.
 */

const defaultLimits = { maxBodyBytes: 102_400, maxTokens: 5000 };

/** `{ t0: __typename t1: __typename … }`: three tokens and about 17 bytes per alias. */
function aliases(count: number, tag: string): string {
  return `{ ${Array.from({ length: count }, (_, i) => `${tag}${i}: __typename`).join(' ')} }`;
}

/** The shape of the review's F2: `{ health { ready } health { ready } … }` of about `bytes`. */
function repeatedHealth(bytes: number): string {
  return `{ ${'health { ready } '.repeat(Math.ceil(bytes / 17))}}`;
}

/** `count` operations `query Qi { health { ready } }`, 8 tokens each; run `Q0`. */
function operations(count: number, extra = ''): string {
  return Array.from({ length: count }, (_, i) => `query Q${i} { health { ready ${i === 0 ? extra : ''}} }`).join('\n');
}

interface Answer {
  status: number;
  contentType: string;
  text: string;
  body: { data?: Record<string, any> | null; errors?: { message: string; extensions?: Record<string, any> }[] } | null;
}

async function answerOf(response: Response): Promise<Answer> {
  const text = await response.text();
  const contentType = response.headers.get('content-type') ?? '';
  return { status: response.status, contentType, text, body: contentType.includes('json') ? JSON.parse(text) : null };
}

/** POSTs a raw body to /graphql; a stream goes chunked, without Content-Length. */
async function post(url: string, body: string | ReadableStream<Uint8Array>, accept = 'application/json'): Promise<Answer> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept },
    body,
    duplex: 'half',
  } as RequestInit);
  return answerOf(response);
}

function chunked(text: string, chunkBytes = 16 * 1024): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.subarray(offset, offset + chunkBytes));
      offset += chunkBytes;
    },
  });
}

const query = (document: string, operationName?: string) => JSON.stringify({ query: document, operationName });

/** A gauge or counter from GET /metrics. */
async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`callwatch_${name} `));
  if (!line) throw new Error(`/metrics has no callwatch_${name}`);
  return Number(line.split(' ')[1]);
}

function codes(answer: Answer): unknown[] {
  return answer.body?.errors?.map((error) => error.extensions?.code) ?? [];
}

/** A graphql-ws client speaking the protocol by hand, so that every message and the close code can be seen. */
class ProtocolSocket {
  readonly socket: WebSocket;
  readonly messages: { id?: string; type: string; payload?: any }[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  #waiters: (() => void)[] = [];

  constructor(url: string) {
    this.socket = new WebSocket(`${url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
    this.socket.on('message', (data) => {
      this.messages.push(JSON.parse(String(data)));
      for (const wake of this.#waiters.splice(0)) wake();
    });
    this.closed = new Promise((resolve) => this.socket.once('close', (code, reason) => resolve({ code, reason: String(reason) })));
    // A refused frame may reset the socket under the client: the close code is what counts.
    this.socket.on('error', () => {});
  }

  static async connect(url: string, apiKey: string): Promise<ProtocolSocket> {
    const client = new ProtocolSocket(url);
    await new Promise((resolve, reject) => {
      client.socket.once('open', resolve);
      client.socket.once('error', reject);
    });
    client.socket.send(JSON.stringify({ type: 'connection_init', payload: { apiKey } }));
    await client.next((message) => message.type === 'connection_ack');
    return client;
  }

  /** The first message (received so far or later) that `accept` takes. */
  async next(accept: (message: ProtocolSocket['messages'][number]) => boolean): Promise<ProtocolSocket['messages'][number]> {
    for (;;) {
      const found = this.messages.find(accept);
      if (found) return found;
      if (this.socket.readyState !== WebSocket.OPEN) throw new Error(`socket closed before the expected message; got ${JSON.stringify(this.messages)}`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        this.socket.once('close', () => resolve());
      });
    }
  }

  subscribe(id: string, document: string): void {
    this.socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query: document } }));
  }

  async close(): Promise<void> {
    if (this.socket.readyState !== WebSocket.CLOSED) this.socket.close();
    await this.closed;
  }
}

describe('oversized GraphQL work is refused before parsing (security review F1, F2)', () => {
  const api = useApiTenant();

  it('refuses a 1 MB POST body with 413 — announced by Content-Length or counted while chunked — and keeps serving', async () => {
    const big = query(aliases(60_000, 'a'));
    expect(big.length).toBeGreaterThan(1_000_000);
    const before = await metric(api.app.url, 'graphql_request_too_large_total');

    for (const body of [big, chunked(big)]) {
      const answer = await post(api.app.url, body);
      expect(answer.status).toBe(413);
      expect(answer.body?.errors).toEqual([
        { message: 'The request is larger than 102400 bytes, the limit.', extensions: { code: 'REQUEST_TOO_LARGE', maxBytes: 102_400 } },
      ]);
    }
    expect(await metric(api.app.url, 'graphql_request_too_large_total')).toBe(before + 2);

    const next = await post(api.app.url, query('{ health { ready } }'));
    expect(next.status).toBe(200);
    expect(next.body?.data).toEqual({ health: { ready: true } });
  });

  it('refuses twenty different ~300 kB documents of 20 000 aliases (F1) and the 1.6 MB `{ health { ready } … }` (F2), caching nothing', async () => {
    const entries = await metric(api.app.url, 'graphql_document_cache_entries');
    for (let i = 0; i < 20; i += 1) {
      const document = aliases(20_000, `u${i}_`);
      expect(document.length).toBeGreaterThan(300_000);
      const answer = await post(api.app.url, query(document));
      expect(answer.status).toBe(413);
      expect(codes(answer)).toEqual(['REQUEST_TOO_LARGE']);
    }
    const f2 = await post(api.app.url, query(repeatedHealth(1_600_000)));
    expect(f2.status).toBe(413);
    expect(await metric(api.app.url, 'graphql_document_cache_entries')).toBe(entries);
  });

  it('accepts a body of exactly GRAPHQL_MAX_BODY_BYTES and refuses one byte more', async () => {
    const document = '{ health { ready } }';
    const bodyOf = (bytes: number) => {
      const empty = query(document).length;
      return query(`${document}${' '.repeat(bytes - empty)}`);
    };
    expect(bodyOf(defaultLimits.maxBodyBytes).length).toBe(defaultLimits.maxBodyBytes);
    const atLimit = await post(api.app.url, bodyOf(defaultLimits.maxBodyBytes));
    expect(atLimit.status).toBe(200);
    expect(atLimit.body?.data).toEqual({ health: { ready: true } });
    const over = await post(api.app.url, bodyOf(defaultLimits.maxBodyBytes + 1));
    expect(over.status).toBe(413);
  });

  it('refuses documents over GRAPHQL_MAX_TOKENS with 400, and caches no refused or invalid document', async () => {
    const entries = await metric(api.app.url, 'graphql_document_cache_entries');
    const refused = await metric(api.app.url, 'graphql_document_too_large_total');
    for (let i = 0; i < 20; i += 1) {
      // 2000 aliases: 6002 tokens in about 36 kB, under the body limit.
      const answer = await post(api.app.url, query(aliases(2000, `t${i}_`)));
      expect(answer.status).toBe(400);
      expect(answer.body?.errors).toEqual([
        { message: 'The document has more than 5000 tokens, the limit.', extensions: { code: 'QUERY_TOO_LARGE', maxTokens: 5000 } },
      ]);
    }
    // About 45 000 tokens in 90 kB: the parser stops at the limit instead of reading them all.
    const dense = await post(api.app.url, query(`{ ${'a '.repeat(45_000)}}`));
    expect(codes(dense)).toEqual(['QUERY_TOO_LARGE']);
    // Comments are not tokens, but the parser keeps them: they have the same limit.
    const comments = await post(api.app.url, query(`{ health { ready } }\n${'#\n'.repeat(5001)}`));
    expect(codes(comments)).toEqual(['QUERY_TOO_LARGE']);
    for (let i = 0; i < 20; i += 1) {
      const syntax = await post(api.app.url, query(`{ s${i}: __typename`));
      expect(syntax.body?.errors?.[0]?.message).toMatch(/Syntax Error/);
      const invalid = await post(api.app.url, query(`{ nope${i} }`));
      expect(invalid.body?.errors?.[0]?.message).toMatch(new RegExp(`nope${i}`));
    }
    expect(await metric(api.app.url, 'graphql_document_too_large_total')).toBe(refused + 22);
    expect(await metric(api.app.url, 'graphql_document_cache_entries')).toBe(entries);

    // The gauge is live: a new valid document is cached once, then served from the cache.
    const fresh = query(`{ cached${Date.now()}: __typename }`);
    for (let i = 0; i < 2; i += 1) expect((await post(api.app.url, fresh)).status).toBe(200);
    expect(await metric(api.app.url, 'graphql_document_cache_entries')).toBe(entries + 1);
  });

  it('refuses a small document that repeats one field over and over (regression: 1,200 × `health { ready }` is 20 kB, inside both limits, and held the event loop for hundreds of ms in validation)', async () => {
    const refused = await metric(api.app.url, 'graphql_document_too_large_total');
    const shapes = [
      `{ ${'health { ready } '.repeat(1200)}}`,
      `{ health { ${'ready '.repeat(2000)}} }`,
      `{ ${'... on Query { health { ready } } '.repeat(400)}}`,
      `{ ${'...F '.repeat(1000)}} fragment F on Query { health { ready } }`,
      `{ ${Array.from({ length: 300 }, (_, i) => `...F${i}`).join(' ')} } ${Array.from({ length: 300 }, (_, i) => `fragment F${i} on Query { health { ready } }`).join(' ')}`,
    ];
    for (const document of shapes) {
      const answer = await post(api.app.url, query(document));
      expect(answer.status).toBe(400);
      expect(answer.body?.errors).toEqual([{ message: expect.stringMatching(/more than 10 times in one selection|gathers more than 500 fields/), extensions: { code: 'QUERY_TOO_LARGE' } }]);
    }
    expect(await metric(api.app.url, 'graphql_document_too_large_total')).toBe(refused + shapes.length);
    // A field asked for a few times, as fragments of a real operation do, is fine.
    const fine = await post(api.app.url, query(`{ health { ready ready } ...H ...H } fragment H on Query { health { ready } }`));
    expect(fine.body).toEqual({ data: { health: { ready: true } } });
  });

  it('runs a document of exactly 5000 tokens and refuses 5001', async () => {
    const atLimit = await post(api.app.url, query(operations(625), 'Q0'));
    expect(atLimit.body).toEqual({ data: { health: { ready: true } } });
    const over = await post(api.app.url, query(operations(625, '__typename '), 'Q0'));
    expect(over.status).toBe(400);
    expect(codes(over)).toEqual(['QUERY_TOO_LARGE']);
  });

  it('applies the token limit to GET query strings; a 1 MB GET never reaches GraphQL', async () => {
    // `+` is a space in a query string: 6000 tokens in 12 kB, under Node's 16 KiB header limit.
    const dense = await answerOf(await fetch(`${api.app.url}/graphql?query={${'a+'.repeat(6000)}}`, { headers: { accept: 'application/json' } }));
    expect(dense.status).toBe(400);
    expect(codes(dense)).toEqual(['QUERY_TOO_LARGE']);

    // Node's HTTP parser refuses a request line over its header limit (16 KiB) by itself.
    const huge = await fetch(`${api.app.url}/graphql?query=${encodeURIComponent(aliases(60_000, 'g'))}`);
    await huge.arrayBuffer();
    expect(huge.status).toBe(431);
    const next = await answerOf(await fetch(`${api.app.url}/graphql?query={health{ready}}`, { headers: { accept: 'application/json' } }));
    expect(next.body?.data).toEqual({ health: { ready: true } });
  });

  it('applies both limits to SSE requests (Accept: text/event-stream)', async () => {
    const big = await post(api.app.url, query(repeatedHealth(1_000_000)), 'text/event-stream');
    expect(big.status).toBe(413);
    expect(codes(big)).toEqual(['REQUEST_TOO_LARGE']);

    const tokens = await post(api.app.url, query(aliases(2000, 'sse')), 'text/event-stream');
    expect(tokens.status).toBe(400);
    expect(tokens.contentType).toContain('text/event-stream');
    expect(tokens.text).toContain('"code":"QUERY_TOO_LARGE"');
    expect(tokens.text).toContain('event: complete');
  });

  it('answers a graphql-ws subscribe over the token limit, or with a syntax error, with an error message and keeps the socket', async () => {
    const client = await ProtocolSocket.connect(api.app.url, api.tenant.keys.viewer);
    try {
      client.subscribe('big', `subscription ${aliases(2000, 'w')}`);
      const big = await client.next((message) => message.id === 'big');
      expect(big.type).toBe('error');
      expect(big.payload).toEqual([{ message: 'The document has more than 5000 tokens, the limit.', extensions: { code: 'QUERY_TOO_LARGE', maxTokens: 5000 } }]);

      client.subscribe('typo', '{ health { ready }');
      const typo = await client.next((message) => message.id === 'typo');
      expect(typo.type).toBe('error');
      expect(typo.payload[0].message).toMatch(/Syntax Error/);

      client.subscribe('ok', '{ health { ready } }');
      const ok = await client.next((message) => message.id === 'ok');
      expect(ok).toEqual({ id: 'ok', type: 'next', payload: { data: { health: { ready: true } } } });
    } finally {
      await client.close();
    }
  });
});

describe('limits from the environment (GRAPHQL_MAX_BODY_BYTES=8192, GRAPHQL_MAX_TOKENS=200)', () => {
  let app: TestApp;
  let tenant: Tenant;
  beforeAll(async () => {
    app = await startTestApp({ ROLE: 'api', GRAPHQL_MAX_BODY_BYTES: '8192', GRAPHQL_MAX_TOKENS: '200' });
    tenant = await createTenant(app.services.orm.em);
  });
  afterAll(() => app?.stop());

  it('refuses a GET query string over the byte limit with 413', async () => {
    // `+` is a space: 9 kB of query string, over 8192 bytes and under Node's header limit.
    const answer = await answerOf(await fetch(`${app.url}/graphql?query={health{ready}}${'+'.repeat(9000)}`, { headers: { accept: 'application/json' } }));
    expect(answer.status).toBe(413);
    expect(answer.body?.errors?.[0]).toEqual({ message: 'The request is larger than 8192 bytes, the limit.', extensions: { code: 'REQUEST_TOO_LARGE', maxBytes: 8192 } });
  });

  it('runs 200 tokens and refuses 201', async () => {
    expect((await post(app.url, query(operations(25), 'Q0'))).body).toEqual({ data: { health: { ready: true } } });
    const over = await post(app.url, query(operations(25, '__typename '), 'Q0'));
    expect(over.body?.errors?.[0]?.message).toBe('The document has more than 200 tokens, the limit.');
  });

  it('closes a graphql-ws socket with 1009 (message too big) when one frame is over the byte limit', async () => {
    const before = await metric(app.url, 'graphql_request_too_large_total');
    const client = await ProtocolSocket.connect(app.url, tenant.keys.viewer);
    client.subscribe('big', `{ health { ready } }${' '.repeat(10_000)}`);
    const outcome = await Promise.race([
      client.closed.then(({ code }) => ({ closed: code })),
      client.next((message) => message.id === 'big').then((message) => ({ answered: message.type })),
    ]);
    expect(outcome).toEqual({ closed: 1009 });
    expect(await metric(app.url, 'graphql_request_too_large_total')).toBe(before + 1);
  });
});
