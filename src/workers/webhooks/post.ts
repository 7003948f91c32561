import http from 'node:http';
import https from 'node:https';
import { describeError } from '../../core/errors.ts';
import type { WebhookDestinations } from '../../core/webhook-destinations.ts';

export interface PostResult {
  statusCode: number | null;
  durationMs: number;
  /** Why there is no 2xx: the answer's status text and body start, or the connection error. */
  error: string | null;
  retryAfter: string | null;
  /** The destination is not allowed: no connection was made. */
  refused: boolean;
}

const agentOptions = { keepAlive: true, maxSockets: 64, timeout: 60_000 };
const agents = { 'http:': new http.Agent(agentOptions), 'https:': new https.Agent(agentOptions) };
const maxErrorBody = 200;

/**
 * POSTs a webhook: JSON body, the given headers, no redirects followed, the whole exchange
 * within `timeoutMs`. Never throws: every outcome is a PostResult to record.
 */
export function postWebhook(url: string, headers: Record<string, string>, body: string, timeoutMs: number, destinations: WebhookDestinations): Promise<PostResult> {
  const started = performance.now();
  const result = (fields: Partial<PostResult>): PostResult => ({
    statusCode: null,
    error: null,
    retryAfter: null,
    refused: false,
    ...fields,
    durationMs: Math.round(performance.now() - started),
  });

  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return Promise.resolve(result({ error: 'refused: not a valid URL', refused: true }));
  }
  // An address in the URL itself is never looked up, so it is checked here.
  const refusal = destinations.urlRefusal(target);
  if (refusal) return Promise.resolve(result({ error: `refused: ${refusal}`, refused: true }));

  return new Promise((resolve) => {
    const request = (target.protocol === 'https:' ? https : http).request(target, {
      method: 'POST',
      agent: agents[target.protocol as 'http:' | 'https:'],
      lookup: destinations.lookup,
      headers: { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'user-agent': 'Callwatch-Webhooks/1.0' },
      signal: AbortSignal.timeout(timeoutMs),
    });
    request.once('response', (response) => {
      const statusCode = response.statusCode ?? null;
      const ok = statusCode !== null && statusCode >= 200 && statusCode < 300;
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        if (!ok && text.length < maxErrorBody) text += chunk;
      });
      response.once('end', () => {
        const error = ok ? null : `${statusCode} ${response.statusMessage ?? ''}${text ? `: ${text.slice(0, maxErrorBody).replace(/\s+/g, ' ').trim()}` : ''}`.trim();
        const retryAfter = response.headers['retry-after'];
        resolve(result({ statusCode, error, retryAfter: typeof retryAfter === 'string' ? retryAfter : null }));
      });
      response.once('error', (error) => resolve(result({ statusCode, error: describeError(error) })));
    });
    request.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EWEBHOOKREFUSED') return resolve(result({ error: describeError(error), refused: true }));
      const reason = error.name === 'AbortError' || error.code === 'ABORT_ERR' ? `no answer within ${timeoutMs} ms` : describeError(error);
      resolve(result({ error: reason }));
    });
    request.end(body);
  });
}
