import { randomUUID } from 'node:crypto';
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCallwatch, type Callwatch } from '../../../src/app.ts';
import { loadConfig } from '../../../src/core/config.ts';
import { createLogger } from '../../../src/core/logger.ts';
import { issueApiKey, revokeApiKey } from '../../../src/entities/api-key.repository.ts';
import { LiveAccess } from '../../../src/graphql/live-access.ts';
import { startTestApp, type TestApp } from '../../support/app.ts';
import { eventually } from '../../support/calls.ts';
import { createTenant, graphql, graphqlWsClient, type Tenant } from '../../support/graphql.ts';
import { startRedisServer, type RedisServer } from '../../support/redis-server.ts';

/**
 * Threat: a revoked API key keeps its live access (security review F4): its open graphql-ws
 * sockets and SSE streams were authorised once, when they opened, so a revoked supervisor
 * key kept receiving `call.started` with callers' numbers, on every instance, for as long as
 * its sockets stayed open; its next `subscribe` closed the socket with 4500, not 4403.
 * Defence: `revokeApiKey` publishes `api-key:revoked` on the bus; every instance closes the
 * key's sockets with 4403 and ends its SSE streams. A revocation heard while a socket is
 * still authenticating closes it as soon as it is held; one the bus dropped (Redis down) is
 * found by a periodic re-check of the open sockets' keys.
 */

type CallStarted = { callSid: string };

/** A graphql-ws `liveCalls` subscription, recording the call sids it sees and how it ended. */
function watchLiveCalls(client: Client) {
  const callSids: string[] = [];
  const ended: { code?: number }[] = [];
  client.subscribe<{ liveCalls: CallStarted }>(
    { query: 'subscription { liveCalls { callSid } }' },
    { next: (value) => void callSids.push(value.data?.liveCalls.callSid ?? '?'), error: (error) => void ended.push(error as { code?: number }), complete: () => {} },
  );
  return { callSids, ended };
}

/** An SSE `liveCalls` stream with `key`, recording its text and whether it ended. */
async function watchOverSse(url: string, key: string) {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query: 'subscription { liveCalls { callSid } }' }),
  });
  expect(response.status).toBe(200);
  const stream = { text: '', ended: false };
  const reader = response.body!.getReader();
  void (async () => {
    for (let next = await reader.read(); !next.done; next = await reader.read()) stream.text += new TextDecoder().decode(next.value);
    stream.ended = true;
  })().catch(() => void (stream.ended = true));
  return { stream, cancel: () => reader.cancel().catch(() => {}) };
}

describe('a revoked API key', () => {
  let redis: RedisServer;
  let a: TestApp;
  let b: Callwatch;
  let tenant: Tenant;
  const clients: Client[] = [];
  beforeAll(async () => {
    redis = await startRedisServer();
    a = await startTestApp({ ROLE: 'api', REDIS_URL: redis.url });
    const config = loadConfig({ NODE_ENV: 'test', PORT: '0', LOG_LEVEL: 'silent', SHUTDOWN_TIMEOUT_MS: '2000', SHUTDOWN_CALL_DRAIN_SEC: '2', ROLE: 'api', MIGRATE_ON_START: 'false', REDIS_URL: redis.url, DATABASE_URL: a.database.url });
    b = await startCallwatch(config, { logger: createLogger({ level: 'silent' }), jobHandlers: {} });
    tenant = await createTenant(a.services.orm.em);
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.dispose()));
    await b?.close();
    await a?.stop();
    await redis?.stop();
  });
  const client = (url: string, key: string) => {
    const c = graphqlWsClient(url, key);
    clients.push(c);
    return c;
  };
  /** A call of the business starting, as its instance announces it (over Redis, to both instances). */
  const callStarts = (callSid: string) =>
    a.services.bus.publish('business:calls', tenant.businessId, { type: 'call.started', callId: randomUUID(), callSid, direction: 'inbound', at: new Date().toISOString() });
  const supervisorKey = async (name: string) => issueApiKey(a.services.orm.em.fork(), { businessId: tenant.businessId, role: 'supervisor', name });

  it('closes its graphql-ws sockets with 4403 on every instance and ends its SSE streams; nothing of later calls reaches them', async () => {
    const { apiKey, key } = await supervisorKey('floor');
    const onA = watchLiveCalls(client(a.url, key));
    const onB = watchLiveCalls(client(b.http!.url, key));
    const sse = await watchOverSse(a.url, key);
    // Announced until every subscription has reached the bus.
    await eventually(
      () => (callStarts('CA-before'), [onA.callSids, onB.callSids, sse.stream.text]),
      (seen) => seen.every((s) => s.includes('CA-before')),
      'the three subscriptions receiving',
    );
    // Each instance listens for revocations from its start, on the Redis connection that has
    // since delivered the business's calls to it: it hears a revocation published now.

    const revoked = await graphql(a.url, tenant.keys.admin, 'mutation($id: ID!) { revokeApiKey(id: $id) { ... on ApiKey { revokedAt } } }', { id: apiKey.id });
    expect(revoked.data?.revokeApiKey.revokedAt).toEqual(expect.any(String));

    // Well inside the periodic re-check's 30 s: this is the revocation heard over the bus.
    const closedBy = 5000;
    await eventually(() => onA.ended, (ended) => ended.length > 0, 'the socket on the instance that revoked it closed', closedBy);
    await eventually(() => onB.ended, (ended) => ended.length > 0, 'the socket on the other instance closed', closedBy);
    await eventually(() => sse.stream.ended, Boolean, 'the SSE stream ended', closedBy);
    expect(onA.ended).toEqual([expect.objectContaining({ code: 4403 })]);
    expect(onB.ended).toEqual([expect.objectContaining({ code: 4403 })]);

    callStarts('CA-after');
    const again = watchLiveCalls(client(a.url, key));
    await eventually(() => again.ended, (ended) => ended.length > 0, 'a new socket with the key refused');
    expect(again.ended).toEqual([expect.objectContaining({ code: 4403 })]);
    for (const seen of [onA.callSids, onB.callSids, sse.stream.text]) expect(seen.includes('CA-after')).toBe(false);
    expect(a.services.metrics.get('subscriptions_revoked_closed_total')).toBeGreaterThanOrEqual(2);
    await sse.cancel();
  });

  it('closes a socket with 4403 (not 4500) when it subscribes with a key revoked without the bus telling', async () => {
    const { apiKey, key } = await supervisorKey('quiet');
    const c = client(a.url, key);
    const first = watchLiveCalls(c);
    await eventually(() => (callStarts('CA-quiet'), first.callSids), (seen) => seen.includes('CA-quiet'), 'the subscription receiving');
    // Revoked in the database only, as if the bus had dropped the event.
    await revokeApiKey(a.services.orm.em.fork(), tenant.businessId, apiKey.id);

    const second = watchLiveCalls(c);
    await eventually(() => second.ended, (ended) => ended.length > 0, 'the socket closed');
    expect(second.ended).toEqual([expect.objectContaining({ code: 4403 })]);
    expect(first.ended).toEqual([expect.objectContaining({ code: 4403 })]);
  });

  it('ends what a key holds when its revocation was heard while the socket was still authenticating', async () => {
    const live = new LiveAccess(a.services);
    try {
      const { apiKey } = await supervisorKey('racing');
      live.revoked(apiKey.id);
      let ended = 0;
      live.hold({ kind: 'business', businessId: tenant.businessId, role: 'supervisor', apiKeyId: apiKey.id, prefix: apiKey.prefix }, () => void (ended += 1));
      expect(ended).toBe(1);
    } finally {
      await live.close();
    }
  });

  it('ends what a key holds when the re-check finds it revoked (the bus dropped the event)', async () => {
    const live = new LiveAccess(a.services);
    try {
      const { apiKey } = await supervisorKey('outage');
      const { apiKey: kept } = await supervisorKey('kept');
      const ended: string[] = [];
      live.hold({ kind: 'business', businessId: tenant.businessId, role: 'supervisor', apiKeyId: apiKey.id, prefix: apiKey.prefix }, () => void ended.push('revoked'));
      live.hold({ kind: 'business', businessId: tenant.businessId, role: 'supervisor', apiKeyId: kept.id, prefix: kept.prefix }, () => void ended.push('kept'));
      await revokeApiKey(a.services.orm.em.fork(), tenant.businessId, apiKey.id);
      await live.recheck();
      expect(ended).toEqual(['revoked']);
    } finally {
      await live.close();
    }
  });
});
