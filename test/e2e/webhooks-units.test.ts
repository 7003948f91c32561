import { createServer } from 'node:http';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { generateWebhookSecret } from '../../src/entities/business-settings.entity.ts';
import { closeServer, listenOnLoopback } from '../../src/sandbox/http.ts';
import { WebhookDestinations } from '../../src/core/webhook-destinations.ts';
import { postWebhook } from '../../src/workers/webhooks/post.ts';
import { classifyStatus, parseRetryAfter, retryDelayMs } from '../../src/workers/webhooks/retry-policy.ts';
import { signatureHeaders } from '../../src/workers/webhooks/sign.ts';

describe('Standard Webhooks signature', () => {
  it('verifies with the standardwebhooks library, and fails for another body or secret', () => {
    const secret = generateWebhookSecret();
    const body = JSON.stringify({ event_type: 'call.completed', summary: 'שלום' });
    const headers = signatureHeaders(secret, 'msg_abc', body, new Date());
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
    expect(() => new Webhook(secret).verify(`${body} `, headers)).toThrow();
    expect(() => new Webhook(generateWebhookSecret()).verify(body, headers)).toThrow();
  });
});

describe('webhook destinations', () => {
  const strict = new WebhookDestinations([]);

  it.each(['127.0.0.1', '10.1.2.3', '172.20.0.1', '192.168.1.10', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', 'fd00::1', 'fe80::1', '::ffff:10.0.0.1'])(
    'refuses %s',
    (address) => {
      expect(strict.refusal(address)).toMatch(/private or loopback.*WEBHOOK_ALLOWED_NETWORKS/);
    },
  );

  it.each(['93.184.215.14', '8.8.8.8', '2606:4700::1111'])('allows the public address %s', (address) => {
    expect(strict.refusal(address)).toBeNull();
  });

  it('allows what the operator allow-listed, and only that', () => {
    const allowed = new WebhookDestinations(['127.0.0.0/8', '10.5.0.7']);
    expect(allowed.refusal('127.0.0.1')).toBeNull();
    expect(allowed.refusal('10.5.0.7')).toBeNull();
    expect(allowed.refusal('10.5.0.8')).not.toBeNull();
  });

  it('refuses before connecting: loopback by address or by name, unless allow-listed', async () => {
    let requests = 0;
    const server = createServer((_req, res) => {
      requests += 1;
      res.end('ok');
    });
    const port = await listenOnLoopback(server);
    try {
      for (const host of ['127.0.0.1', 'localhost']) {
        const result = await postWebhook(`http://${host}:${port}/hook`, {}, '{}', 2000, strict);
        expect(result).toMatchObject({ refused: true, statusCode: null, error: expect.stringMatching(/^refused: .*127\.0\.0\.1/) });
      }
      expect(requests).toBe(0);
      const allowed = await postWebhook(`http://localhost:${port}/hook`, {}, '{}', 2000, new WebhookDestinations(['127.0.0.0/8', '::1']));
      expect(allowed).toMatchObject({ refused: false, statusCode: 200, error: null });
      expect(requests).toBe(1);
    } finally {
      await closeServer(server);
    }
  });

  it('records a timeout and a non-2xx answer as errors, never throwing', async () => {
    const server = createServer((req, res) => {
      if (req.url === '/slow') return; // never answers
      res.writeHead(503, { 'retry-after': '120' });
      res.end('maintenance until noon');
    });
    const port = await listenOnLoopback(server);
    const allowed = new WebhookDestinations(['127.0.0.1']);
    try {
      expect(await postWebhook(`http://127.0.0.1:${port}/slow`, {}, '{}', 200, allowed)).toMatchObject({ statusCode: null, error: 'no answer within 200 ms' });
      expect(await postWebhook(`http://127.0.0.1:${port}/down`, {}, '{}', 2000, allowed)).toMatchObject({
        statusCode: 503,
        error: '503 Service Unavailable: maintenance until noon',
        retryAfter: '120',
      });
      expect(await postWebhook('ftp://example.com/x', {}, '{}', 2000, allowed)).toMatchObject({ refused: true });
    } finally {
      await closeServer(server);
    }
  });
});

describe('webhook retry policy', () => {
  it('delivers on 2xx, gives up on 4xx except 408 and 429, retries the rest', () => {
    expect([200, 204, 299].map(classifyStatus)).toEqual(['delivered', 'delivered', 'delivered']);
    expect([400, 401, 404, 410, 422].map(classifyStatus)).toEqual(['failed', 'failed', 'failed', 'failed', 'failed']);
    expect([408, 429, 500, 503, 301, null].map(classifyStatus)).toEqual(['retry', 'retry', 'retry', 'retry', 'retry', 'retry']);
  });

  it('backs off exponentially with jitter, capped at two hours, honouring a longer Retry-After', () => {
    const middle = () => 0.5;
    expect([1, 2, 3, 4].map((attempt) => retryDelayMs(attempt, 10_000, null, middle))).toEqual([10_000, 20_000, 40_000, 80_000]);
    expect(retryDelayMs(30, 10_000, null, middle)).toBe(7_200_000);
    expect(retryDelayMs(1, 10_000, null, () => 0)).toBe(8_000);
    expect(retryDelayMs(1, 10_000, null, () => 1)).toBe(12_000);
    expect(retryDelayMs(1, 10_000, 60_000, middle)).toBe(60_000);
    expect(retryDelayMs(1, 10_000, 86_400_000, middle)).toBe(7_200_000);
  });

  it('reads Retry-After as seconds or as a date', () => {
    const now = Date.parse('2026-11-22T10:00:00Z');
    expect(parseRetryAfter('30', now)).toBe(30_000);
    expect(parseRetryAfter('Sun, 22 Nov 2026 10:01:00 GMT', now)).toBe(60_000);
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter(null, now)).toBeNull();
  });
});
