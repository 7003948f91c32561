import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The supervisor console at /monitor: static ES modules served as they are in the repo —
 * no build step, so the page works the moment the service runs. The only third-party
 * code it loads is graphql-ws's browser client, served from the installed package under
 * /monitor/vendor/, so the page and the server always speak the same protocol version.
 *
 * Everything is read once at start-up and kept in memory (≈ 60 KB); each file carries an
 * ETag, and the browser revalidates (`no-cache`), so a deploy shows up on the next load.
 */

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/**
 * No inline script or style, nothing from another origin: the page can only talk to this
 * server (HTTP and its websocket — CSP 3 `'self'` covers ws: and wss: of the same host).
 * The API key the supervisor types is the only secret the page ever holds.
 */
const securityHeaders = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
};

export type MonitorHandler = (req: IncomingMessage, res: ServerResponse, path: string) => void;

/** Serves /monitor (the page) and its assets; anything else under /monitor/ is a 404. */
export function createMonitorHandler(): MonitorHandler {
  const assets = loadAssets();
  return (req, res, path) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
      return void res.end('Method not allowed\n');
    }
    if (path === '/monitor') path = '/monitor/';
    const asset = assets.get(path === '/monitor/' ? '/monitor/index.html' : path);
    if (!asset) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', ...securityHeaders });
      return void res.end('Not found\n');
    }
    const headers = { 'content-type': asset.type, etag: asset.etag, 'cache-control': 'no-cache', ...securityHeaders };
    if (req.headers['if-none-match'] === asset.etag) {
      res.writeHead(304, headers);
      return void res.end();
    }
    res.writeHead(200, { ...headers, 'content-length': asset.body.length });
    res.end(req.method === 'HEAD' ? undefined : asset.body);
  };
}

function loadAssets(): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  const add = (urlPath: string, file: string) => {
    const body = readFileSync(file);
    const type = contentTypes[extname(file)];
    if (!type) return;
    assets.set(urlPath, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
  };

  const publicDir = join(dirname(fileURLToPath(import.meta.url)), 'public');
  for (const entry of readdirSync(publicDir, { recursive: true, withFileTypes: true })) {
    // Type declarations and the type-check config serve the editor, not the browser.
    if (!entry.isFile() || entry.name.endsWith('.d.ts') || entry.name.endsWith('.json')) continue;
    const file = join(entry.parentPath, entry.name);
    add(`/monitor/${file.slice(publicDir.length + 1).split('\\').join('/')}`, file);
  }

  // graphql-ws's ES module client (its `browser` build too) is client.js plus the chunks
  // it imports by relative path.
  const client = fileURLToPath(import.meta.resolve('graphql-ws/client'));
  const dist = dirname(client);
  add('/monitor/vendor/graphql-ws.js', client);
  for (const name of readdirSync(dist)) {
    if (/^common-[\w-]+\.js$/.test(name)) add(`/monitor/vendor/${name}`, join(dist, name));
  }
  return assets;
}
