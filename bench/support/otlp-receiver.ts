import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

/** What an OTLP receiver has taken so far. */
export interface OtlpTally {
  /** Export requests answered 200. */
  requests: number;
  /** Spans in them (OTLP/JSON bodies; a protobuf body counts its request only). */
  spans: number;
  /** Bytes of request bodies, as sent (compressed or not). */
  bytes: number;
  /** Names of the spans taken, each with how many times (for tests). */
  names: Map<string, number>;
}

export interface OtlpReceiver {
  /** The base URL to give as OTEL_EXPORTER_OTLP_ENDPOINT (spans go to `<url>/v1/traces`). */
  url: string;
  tally: OtlpTally;
  close(): Promise<void>;
}

interface OtlpJsonBody {
  resourceSpans?: { scopeSpans?: { spans?: { name?: string }[] }[] }[];
}

/**
 * A collector's OTLP/HTTP trace endpoint reduced to what a benchmark needs: on 127.0.0.1,
 * port 0, it accepts POST /v1/traces (JSON, gzip or not), counts requests, spans and bytes,
 * and answers 200 with an empty ExportTraceServiceResponse, as a healthy collector does —
 * so the exporter does all its work (serialise, send, read the answer) and nothing more.
 */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const tally: OtlpTally = { requests: 0, spans: 0, bytes: 0, names: new Map() };
  const server = createServer((req, res) => {
    if (req.method !== 'POST' || req.url !== '/v1/traces') {
      res.writeHead(404).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      tally.requests += 1;
      tally.bytes += raw.length;
      const json = (req.headers['content-type'] ?? '').startsWith('application/json');
      if (json) {
        const body = (req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
        countSpans(JSON.parse(body) as OtlpJsonBody, tally);
      }
      res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' }).end(json ? '{}' : '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    tally,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function countSpans(body: OtlpJsonBody, tally: OtlpTally): void {
  for (const resource of body.resourceSpans ?? []) {
    for (const scope of resource.scopeSpans ?? []) {
      for (const span of scope.spans ?? []) {
        tally.spans += 1;
        const name = span.name ?? '';
        tally.names.set(name, (tally.names.get(name) ?? 0) + 1);
      }
    }
  }
}
