import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCallwatch, type Callwatch } from '../../src/app.ts';
import { loadConfig } from '../../src/core/config.ts';
import { createLogger } from '../../src/core/logger.ts';
import { issueApiKey } from '../../src/entities/api-key.repository.ts';
import { Call } from '../../src/entities/call.entity.ts';
import { eventually, placeCall, startCallHarness, type CallHarness } from '../support/calls.ts';
import { graphql } from '../support/graphql.ts';
import { startRedisServer, type RedisServer } from '../support/redis-server.ts';
import { callEnvironment } from '../support/twilio.ts';

/**
 * Two Callwatch instances sharing events through Redis (REDIS_URL, a `redis-server` of the
 * test's own): a supervisor's action sent to one reaches the call held by the other.
 */

describe('two instances sharing the bus through Redis', () => {
  let redis: RedisServer;
  let h: CallHarness;
  let other: Callwatch;
  beforeAll(async () => {
    redis = await startRedisServer();
    h = await startCallHarness({ env: { REDIS_URL: redis.url } });
    const config = loadConfig({ NODE_ENV: 'test', PORT: '0', LOG_LEVEL: 'silent', SHUTDOWN_TIMEOUT_MS: '2000', SHUTDOWN_CALL_DRAIN_SEC: '2', ROLE: 'api', MIGRATE_ON_START: 'false', ...callEnvironment({ REDIS_URL: redis.url, DATABASE_URL: h.app.database.url }) });
    other = await startCallwatch(config, { logger: createLogger({ level: 'silent' }), jobHandlers: {} });
  });
  afterAll(async () => {
    await other?.close();
    await h?.stop();
    await redis?.stop();
  });

  it('carries a whisper sent to one instance to the call the other holds, and its events back', async () => {
    const { key } = await issueApiKey(h.app.services.orm.em.fork(), { businessId: h.business.id, role: 'supervisor', name: 'floor' });
    const { caller, session, callSid } = await placeCall(h, 'CA00000000000000000000000000000951');
    session.script({ replies: [{ text: 'שלום' }] });
    caller.start();
    await session.waitForReceived('response.create');
    const call = await eventually(() => h.app.services.orm.em.fork().findOneOrFail(Call, { callSid }), () => true, 'the call');

    // Events published by the instance holding the call reach a subscriber on the other one.
    const seen: string[] = [];
    const subscription = other.services.bus.subscribe('call:events', call.id);
    const collecting = (async () => {
      for await (const event of subscription) seen.push(event.type);
    })();
    await eventually(() => redis.subscribers(`call:events:${call.id}`), (n) => n > 0, 'the subscription on Redis');

    const answer = await graphql(other.http!.url, key, 'mutation($id: ID!) { whisperToAgent(callId: $id, text: "תציע תור ליום ראשון") { ... on SupervisorActionResult { acted error } } }', { id: call.id });
    expect(answer.data?.whisperToAgent).toEqual({ acted: true, error: null });
    const item = await session.waitForReceived('conversation.item.create');
    expect(JSON.stringify(item)).toContain('תציע תור ליום ראשון');
    await eventually(() => seen, (types) => types.includes('supervisor.action'), 'the action on the other instance');

    await subscription.return();
    await collecting;
    caller.stop();
    await caller.closed;
  });
});
