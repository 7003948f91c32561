/**
 * The clients of bench:graphql-oversized, forked by it with an IPC channel, so that sending
 * megabyte bodies does not slow the benchmark process, which times `/health`. On `start`,
 * `clients` loops POST anonymous documents of about `bytes` to `url` back to back, each
 * different (`{ rN: __typename health { ready } health { ready } … }`, N counting on over
 * the whole run); on `stop` they abort what is in flight and the answers are reported,
 * counted by HTTP status (`failed`: no answer, e.g. a reset while the body was sent).
 */
/** Bench → load. */
export type LoadCommand = { type: 'start'; url: string; clients: number; bytes: number } | { type: 'stop' } | { type: 'close' };

/** Load → bench. */
export type LoadReport = { type: 'stopped'; statuses: Record<string, number> } | { type: 'failed'; message: string };

function send(message: LoadReport): void {
  process.send?.(message);
}

let sequence = 0;
let running: { stop: AbortController; clients: Promise<void>[]; statuses: Record<string, number> } | undefined;

/** `{"query":"{ rN: __typename health { ready } … }"}` of about `bytes`: the body of request N. */
function bodies(bytes: number): (n: number) => Uint8Array<ArrayBuffer> {
  const tail = Buffer.from(`${'health { ready } '.repeat(Math.ceil(bytes / 17))}}"}`);
  return (n) => {
    const head = Buffer.from(`{"query":"{ r${n}: __typename `);
    const body = new Uint8Array(head.length + tail.length);
    body.set(head);
    body.set(tail, head.length);
    return body;
  };
}

async function client(url: string, body: (n: number) => Uint8Array<ArrayBuffer>, signal: AbortSignal, statuses: Record<string, number>): Promise<void> {
  const count = (key: string) => void (statuses[key] = (statuses[key] ?? 0) + 1);
  while (!signal.aborted) {
    try {
      sequence += 1;
      const response = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: body(sequence), signal });
      await response.arrayBuffer();
      count(String(response.status));
    } catch {
      if (!signal.aborted) count('failed');
    }
  }
}

process.on('message', (raw) => {
  const message = raw as LoadCommand;
  switch (message.type) {
    case 'start': {
      const stop = new AbortController();
      const statuses: Record<string, number> = {};
      const body = bodies(message.bytes);
      running = { stop, statuses, clients: Array.from({ length: message.clients }, () => client(message.url, body, stop.signal, statuses)) };
      return;
    }
    case 'stop': {
      const current = running;
      running = undefined;
      if (!current) return send({ type: 'failed', message: 'stop before start' });
      current.stop.abort();
      void Promise.all(current.clients).then(() => send({ type: 'stopped', statuses: current.statuses }));
      return;
    }
    case 'close':
      process.exit(0);
  }
});
