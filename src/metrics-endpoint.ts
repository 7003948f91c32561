import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { bearerChallenge } from './core/auth.ts';
import { AppError, describeError } from './core/errors.ts';
import type { Services } from './core/services.ts';

/**
 * GET /metrics (security review F12). With METRICS_TOKEN it answers only
 * `Authorization: Bearer <token>` (401 otherwise, compared in constant time); with
 * METRICS_PORT it is served by its own listener on that port and not on PORT, so it can
 * stay on a private network. Production needs one or both (config.ts); elsewhere, with
 * neither, it is open on PORT.
 */
export function createMetricsHandler(services: Services): (req: IncomingMessage, res: ServerResponse) => void {
  const { metrics } = services;
  const token = services.config.metrics.token;
  const expected = token === undefined ? undefined : digest(`Bearer ${token}`);
  return (req, res) => {
    if (req.method !== 'GET') return send(res, 405, 'method not allowed\n', { allow: 'GET' });
    if (expected !== undefined && !timingSafeEqual(digest(req.headers.authorization ?? ''), expected)) {
      metrics.increment('metrics_unauthorized_total');
      const challenge = bearerChallenge('metrics', req.headers.authorization ? 'invalid_token' : undefined);
      return send(res, 401, 'send Authorization: Bearer <METRICS_TOKEN>\n', { 'www-authenticate': challenge });
    }
    metrics.render().then(
      (text) => send(res, 200, text, { 'content-type': metrics.contentType }),
      // A metric's collect threw: no partial page (the queue-depth reader handles its own failures).
      (error: unknown) => {
        services.logger.error({ err: describeError(error) }, 'metrics: cannot collect');
        send(res, 500, 'cannot collect metrics\n');
      },
    );
  };
}

/**
 * The METRICS_PORT listener: /metrics and nothing else. Resolves once it listens; rejects
 * with STARTUP_FAILED naming METRICS_PORT when it cannot.
 */
export function startMetricsServer(port: number, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Server> {
  const server = createServer((req, res) => {
    if ((req.url ?? '/').split('?')[0] === '/metrics') return handler(req, res);
    send(res, 404, 'not found\n');
  });
  return new Promise((resolve, reject) => {
    const fail = (error: unknown) => reject(new AppError('STARTUP_FAILED', `metrics server: cannot listen on METRICS_PORT ${port}`, { cause: error }));
    server.once('error', fail);
    server.listen(port, () => {
      server.off('error', fail);
      resolve(server);
    });
  });
}

/** Closes a METRICS_PORT listener. Scrapes are short: it does not wait for them. */
export function closeMetricsServer(server: Server): Promise<void> {
  const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  return stopped;
}

/** Equal-length digests, so the comparison takes the same time whatever was sent. */
function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}
