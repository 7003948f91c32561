import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMonitorHandler } from '../../src/monitor/serve.ts';
import { closeServer } from '../../src/sandbox/http.ts';

/** How /monitor is served: the files, their types and caching, and what the page may load. */
describe('/monitor assets', () => {
  let server: Server;
  let url: string;
  beforeAll(async () => {
    const monitor = createMonitorHandler();
    server = createServer((req, res) => monitor(req, res, (req.url ?? '/').split('?')[0] ?? '/'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => closeServer(server));

  it('serves the page with a policy that allows only this origin and no inline code', async () => {
    for (const path of ['/monitor', '/monitor/']) {
      const response = await fetch(`${url}${path}`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(response.headers.get('content-security-policy')).toContain("script-src 'self';");
      expect(response.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      const html = await response.text();
      expect(html).toContain('<script type="module" src="/monitor/main.js"></script>');
      expect(html).not.toMatch(/<script>|style=/);
    }
  });

  it('serves every module the page imports, and graphql-ws from the installed package', async () => {
    const pending = ['/monitor/main.js'];
    const seen = new Set<string>();
    while (pending.length > 0) {
      const path = pending.pop()!;
      if (seen.has(path)) continue;
      seen.add(path);
      const response = await fetch(`${url}${path}`);
      expect(response.status, path).toBe(200);
      expect(response.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
      const source = await response.text();
      for (const [, specifier] of source.matchAll(/^(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]/gm)) {
        expect(specifier, `${path} imports ${specifier}`).toMatch(/^\.\.?\//);
        pending.push(new URL(specifier!, `${url}${path}`).pathname);
      }
    }
    expect(seen).toContain('/monitor/vendor/graphql-ws.js');
    expect([...seen].some((path) => /^\/monitor\/vendor\/common-[\w-]+\.js$/.test(path))).toBe(true);
  });

  it('answers 304 to a matching ETag, 404 to anything else, 405 to writes', async () => {
    const first = await fetch(`${url}/monitor/monitor.css`);
    const etag = first.headers.get('etag');
    expect(first.headers.get('cache-control')).toBe('no-cache');
    expect((await fetch(`${url}/monitor/monitor.css`, { headers: { 'if-none-match': etag! } })).status).toBe(304);
    for (const path of ['/monitor/nope.js', '/monitor/tsconfig.json', '/monitor/vendor/graphql-ws.d.ts', '/monitor/../package.json', '/monitor/%2e%2e/package.json']) {
      expect((await fetch(`${url}${path}`)).status, path).toBe(404);
    }
    expect((await fetch(`${url}/monitor`, { method: 'POST' })).status).toBe(405);
  });
});
