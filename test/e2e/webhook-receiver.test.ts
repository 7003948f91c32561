import { randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startWebhookReceiver, type WebhookReceiver } from '../../src/sandbox/webhook-receiver.ts';

/** POSTs `body` to the receiver as a Standard Webhooks sender would, signed with `secret`. */
async function deliver(
  receiver: WebhookReceiver,
  body: string,
  options: { secret?: string; sentAt?: Date; signedBody?: string; path?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; webhookId: string }> {
  const webhookId = `msg_${randomUUID()}`;
  const sentAt = options.sentAt ?? new Date();
  const signature = new Webhook(options.secret ?? receiver.secret).sign(webhookId, sentAt, options.signedBody ?? body);
  const url = options.path ? receiver.url.replace(/\/hooks$/, options.path) : receiver.url;
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'user-agent': 'Callwatch-Webhooks/1',
      'webhook-id': webhookId,
      'webhook-timestamp': String(Math.floor(sentAt.getTime() / 1000)),
      'webhook-signature': signature,
      ...options.headers,
    },
    body,
  });
  await response.arrayBuffer();
  return { status: response.status, webhookId };
}

const body = JSON.stringify({ type: 'call.completed', timestamp: '2026-01-05T10:00:00Z', data: { callId: 'c1', summary: 'תור לתספורת' } });

describe('webhook receiver', () => {
  let receiver: WebhookReceiver;
  beforeAll(async () => {
    receiver = await startWebhookReceiver();
  });
  afterAll(() => receiver.close());
  beforeEach(() => {
    receiver.respond((delivery) => (delivery.verified ? 200 : 401));
  });

  it('verifies a delivery signed with standardwebhooks and records it as received', async () => {
    expect(receiver.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/hooks$/);
    expect(receiver.secret).toMatch(/^whsec_/);
    const { status, webhookId } = await deliver(receiver, body);
    expect(status).toBe(200);
    expect(receiver.deliveries.at(-1)).toMatchObject({
      webhookId,
      path: '/hooks',
      body,
      payload: { type: 'call.completed', data: { callId: 'c1', summary: 'תור לתספורת' } },
      verified: true,
      verifyError: null,
      status: 200,
      contentType: 'application/json',
      userAgent: 'Callwatch-Webhooks/1',
    });
    expect(receiver.deliveries.at(-1)?.signature).toMatch(/^v1,/);
  });

  it('rejects a tampered body, a wrong secret, an old timestamp and missing headers with 401', async () => {
    const tampered = await deliver(receiver, body.replace('c1', 'c2'), { signedBody: body });
    const wrongSecret = await deliver(receiver, body, { secret: `whsec_${Buffer.from('not the secret').toString('base64')}` });
    const old = await deliver(receiver, body, { sentAt: new Date(Date.now() - 6 * 60_000) });
    const unsigned = await fetch(receiver.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    await unsigned.arrayBuffer();
    expect([tampered.status, wrongSecret.status, old.status, unsigned.status]).toEqual([401, 401, 401, 401]);
    expect(receiver.deliveries.slice(-4).map((d) => [d.verified, d.verifyError])).toEqual([
      [false, 'No matching signature found'],
      [false, 'No matching signature found'],
      [false, 'Message timestamp too old'],
      [false, 'Missing required headers'],
    ]);
    expect(receiver.deliveries.at(-1)).toMatchObject({ webhookId: null, timestamp: null, signature: null });
  });

  it('verifies with a new secret after setSecret', async () => {
    const previous = receiver.secret;
    const next = `whsec_${Buffer.from('a rotated secret of 24 b').toString('base64')}`;
    receiver.setSecret(next);
    try {
      expect((await deliver(receiver, body, { secret: previous })).status).toBe(401);
      expect((await deliver(receiver, body, { secret: next })).status).toBe(200);
    } finally {
      receiver.setSecret(previous);
    }
  });

  it('answers scripted statuses in order, then falls back to the default', async () => {
    receiver.respondWith(500, 500);
    const statuses = [];
    for (let attempt = 0; attempt < 3; attempt++) statuses.push((await deliver(receiver, body)).status);
    expect(statuses).toEqual([500, 500, 200]);
    expect(receiver.deliveries.slice(-3).map((d) => [d.status, d.verified])).toEqual([
      [500, true],
      [500, true],
      [200, true],
    ]);
  });

  it('asks a responder, with the delivery and its index', async () => {
    const seen: number[] = [];
    receiver.respond(async (delivery, index) => {
      seen.push(index);
      return delivery.payload?.type === 'call.completed' ? 410 : 204;
    });
    const start = receiver.deliveries.length;
    expect((await deliver(receiver, body)).status).toBe(410);
    expect((await deliver(receiver, '{"type":"call.started"}')).status).toBe(204);
    expect(seen).toEqual([start, start + 1]);
  });

  it('accepts any path, refuses other methods, and records a non-JSON body with a null payload', async () => {
    const { webhookId } = await deliver(receiver, 'not json', { path: '/crm/callwatch?source=test', headers: { 'content-type': 'text/plain' } });
    expect(await receiver.waitForDelivery((d) => d.webhookId === webhookId)).toMatchObject({ path: '/crm/callwatch', payload: null, verified: true, status: 200 });
    const count = receiver.deliveries.length;
    const get = await fetch(receiver.url);
    await get.arrayBuffer();
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    expect(receiver.deliveries.length).toBe(count);
  });

  it('waits for a total count of deliveries sent concurrently', async () => {
    const target = receiver.deliveries.length + 20;
    const counted = receiver.waitForCount(target, 5_000);
    await Promise.all(Array.from({ length: 20 }, () => deliver(receiver, body)));
    await counted;
    expect(receiver.deliveries.length).toBe(target);
    await receiver.waitForCount(target - 5);
    await expect(receiver.waitForCount(target + 1, 50)).rejects.toThrow(/timed out/);
  });
});
