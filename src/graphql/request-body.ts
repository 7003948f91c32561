import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';

/** What became of a /graphql request: its body read (yoga's turn), refused with 413, or the client left. */
export type RequestBodyOutcome = 'read' | 'refused' | 'gone';

/**
 * Reads the body of a /graphql request before yoga sees it, at most `maxBytes` of it (and
 * a query string of at most `maxBytes`), so nothing unbounded is buffered or parsed
 * (security review F1, F2). A Content-Length over the limit is refused before a byte of
 * the body is read; a chunked body is counted as it arrives and refused at the chunk that
 * crosses the limit. The refusal is a GraphQL-shaped 413 with `Connection: close`: Node
 * closes the socket once it is sent, rather than reading or waiting for the rest.
 *
 * The body read is handed to yoga as `req.body`, which @whatwg-node/server (yoga's HTTP
 * layer) takes in place of the request stream when a framework has read it already. It
 * goes as a stream, not a Buffer: the adapter calls Object.keys on that value, which costs
 * milliseconds on a 100 kB Buffer.
 */
export function readGraphQLRequestBody(req: IncomingMessage, res: ServerResponse, maxBytes: number): Promise<RequestBodyOutcome> {
  const url = req.url ?? '';
  const query = url.indexOf('?');
  if (query >= 0 && url.length - query - 1 > maxBytes) return Promise.resolve(refuse(res, maxBytes));
  if (req.method === 'GET' || req.method === 'HEAD') return Promise.resolve('read');
  const declared = Number(req.headers['content-length']);
  if (declared > maxBytes) return Promise.resolve(refuse(res, maxBytes));

  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    const onData = (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes <= maxBytes) return void chunks.push(chunk);
      stop();
      req.pause();
      resolve(refuse(res, maxBytes));
    };
    const onEnd = () => {
      stop();
      (req as IncomingMessage & { body?: Readable }).body = Readable.from(chunks, { objectMode: false });
      resolve('read');
    };
    const onClose = () => {
      stop();
      resolve('gone');
    };
    const stop = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onClose);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('close', onClose);
  });
}

function refuse(res: ServerResponse, maxBytes: number): 'refused' {
  const body = JSON.stringify({
    errors: [{ message: `The request is larger than ${maxBytes} bytes, the limit.`, extensions: { code: 'REQUEST_TOO_LARGE', maxBytes } }],
  });
  res.writeHead(413, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' });
  res.end(body);
  return 'refused';
}
