import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { Webhook } from 'standardwebhooks';
import { EventLog } from './event-log.ts';
import { closeServer, listenOnLoopback, readBody } from './http.ts';

/**
 * What a business's CRM would run to take Callwatch's webhooks: an HTTP server on
 * 127.0.0.1 that verifies every delivery with the Standard Webhooks reference library
 * (`webhook-id`, `webhook-timestamp`, `webhook-signature`, HMAC-SHA256 over the raw body,
 * five minutes' timestamp tolerance), records it and answers with a status tests steer.
 */

export interface ReceivedWebhook {
  /** Headers webhook-id, webhook-timestamp, webhook-signature as received (null when absent). */
  webhookId: string | null;
  timestamp: string | null;
  signature: string | null;
  path: string;
  body: string;
  /** JSON.parse(body), or null if not a JSON object. */
  payload: Record<string, unknown> | null;
  /** standardwebhooks' verify() accepted it with the receiver's secret. */
  verified: boolean;
  verifyError: string | null;
  /** What the receiver answered. */
  status: number;
  /** performance.now() when the whole body had arrived. */
  receivedAt: number;
  contentType: string | null;
  userAgent: string | null;
}

/** Chooses the status for a delivery; `index` counts deliveries from 0. */
export type WebhookResponder = (delivery: Omit<ReceivedWebhook, 'status'>, index: number) => number | Promise<number>;

export interface WebhookReceiverOptions {
  /** A `whsec_…` secret (base64 key). Default: 24 random bytes. */
  secret?: string;
  port?: number;
  /** Default: 200 for verified deliveries, 401 for unverified. */
  respond?: WebhookResponder;
}

export interface WebhookReceiver {
  /** http://127.0.0.1:PORT/hooks — any path under the server is accepted. */
  readonly url: string;
  /** The secret deliveries are verified with now. */
  readonly secret: string;
  /** Every POST, in the order answered (arrival order unless a responder is slow), with its status. */
  readonly deliveries: readonly ReceivedWebhook[];
  setSecret(secret: string): void;
  /** Answer the next deliveries with these statuses in order, then fall back to the responder/default. */
  respondWith(...statuses: number[]): void;
  respond(responder: WebhookResponder): void;
  /**
   * Holds the answer to every delivery from now on until `release(status)` (a receiver slow
   * to answer, while the sender may die). `arrived` resolves with the first held delivery.
   */
  hold(): { arrived: Promise<Omit<ReceivedWebhook, 'status'>>; release: (status: number) => void };
  /** The first delivery matching, already received or still to come. */
  waitForDelivery(predicate: (d: ReceivedWebhook) => boolean, timeoutMs?: number): Promise<ReceivedWebhook>;
  /** Resolves once `count` deliveries have arrived in total. */
  waitForCount(count: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

const verifiedOrUnauthorized: WebhookResponder = (delivery) => (delivery.verified ? 200 : 401);

/** Starts a webhook receiver on 127.0.0.1 (port 0 unless given). */
export async function startWebhookReceiver(options: WebhookReceiverOptions = {}): Promise<WebhookReceiver> {
  let secret = options.secret ?? `whsec_${randomBytes(24).toString('base64')}`;
  // Built once per secret: the constructor decodes the key.
  let webhook = new Webhook(secret);
  let responder = options.respond ?? verifiedOrUnauthorized;
  const scripted: number[] = [];
  const deliveries = new EventLog<ReceivedWebhook>('webhook delivery');
  // Counts deliveries being answered, so a slow async responder still gets its arrival index.
  let arrivals = 0;
  let held: { arrive: (delivery: Omit<ReceivedWebhook, 'status'>) => void; released: Promise<number> } | null = null;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST') {
      req.resume();
      res.writeHead(405, { Allow: 'POST', 'Content-Length': 0 });
      res.end();
      return;
    }
    const body = (await readBody(req)).toString('utf8');
    const receivedAt = performance.now();
    const index = arrivals++;
    const headers = req.headers;
    const webhookId = header(headers['webhook-id']);
    const timestamp = header(headers['webhook-timestamp']);
    const signature = header(headers['webhook-signature']);
    let verifyError: string | null = null;
    try {
      webhook.verify(body, { 'webhook-id': webhookId ?? '', 'webhook-timestamp': timestamp ?? '', 'webhook-signature': signature ?? '' }, { jsonParse: false });
    } catch (error) {
      verifyError = error instanceof Error ? error.message : String(error);
    }
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const delivery: Omit<ReceivedWebhook, 'status'> = {
      webhookId,
      timestamp,
      signature,
      path: query < 0 ? url : url.slice(0, query),
      body,
      payload: parseObject(body),
      verified: verifyError === null,
      verifyError,
      receivedAt,
      contentType: header(headers['content-type']),
      userAgent: header(headers['user-agent']),
    };
    let status: number;
    try {
      if (held) held.arrive(delivery);
      status = held ? await held.released : (scripted.shift() ?? (await responder(delivery, index)));
    } catch (error) {
      // Logged anyway, so a wait on this delivery sees the 500 the sender gets.
      deliveries.push({ ...delivery, status: 500 });
      throw error;
    }
    // Logged before answering: once the sender sees the status, the delivery is in the list.
    deliveries.push({ ...delivery, status });
    res.writeHead(status, { 'Content-Length': 0 });
    res.end();
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      // A broken request (aborted body) or a throwing responder: answer so the sender moves on.
      if (res.headersSent) return;
      const message = error instanceof Error ? error.message : String(error);
      res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(message) });
      res.end(message);
    });
  });
  const port = await listenOnLoopback(server, options.port);

  return {
    url: `http://127.0.0.1:${port}/hooks`,
    get secret() {
      return secret;
    },
    deliveries: deliveries.items,
    setSecret(next) {
      webhook = new Webhook(next);
      secret = next;
    },
    respondWith(...statuses) {
      scripted.push(...statuses);
    },
    respond(next) {
      responder = next;
    },
    hold() {
      const arrived = Promise.withResolvers<Omit<ReceivedWebhook, 'status'>>();
      const released = Promise.withResolvers<number>();
      const gate = { arrive: arrived.resolve, released: released.promise };
      held = gate;
      return {
        arrived: arrived.promise,
        release(status) {
          if (held === gate) held = null;
          released.resolve(status);
        },
      };
    },
    waitForDelivery(predicate, timeoutMs) {
      return deliveries.waitFor(predicate, timeoutMs);
    },
    async waitForCount(count, timeoutMs) {
      if (deliveries.items.length >= count) return;
      await deliveries.waitFor(() => deliveries.items.length >= count, timeoutMs);
    },
    async close() {
      deliveries.close('receiver closed');
      await closeServer(server);
    },
  };
}

function header(value: string | string[] | undefined): string | null {
  if (value === undefined) return null;
  return Array.isArray(value) ? value.join(', ') : value;
}

/** A JSON object body; null for anything else, which `payload` reports rather than an error. */
function parseObject(body: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(body);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
