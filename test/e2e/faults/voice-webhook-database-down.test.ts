import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../support/app.ts';
import { businessNumber, sarahsNumber } from '../../support/calls.ts';
import { issueApiKey } from '../../../src/entities/api-key.repository.ts';
import { verifyStreamToken } from '../../../src/realtime/twilio-line/stream-token.ts';
import { eventually } from '../../support/calls.ts';
import { createBusiness } from '../../support/factories.ts';
import { graphql } from '../../support/graphql.ts';
import { callEnvironment, inboundCallParams, postTwilioWebhook, streamOf, twilioAccountSid } from '../../support/twilio.ts';

/**
 * Fault: the database is unreachable when a call comes in. A number the routing cache does
 * not know (here: its business was written to the database after the app started, behind
 * its back) cannot be routed: today's answer to Twilio was a 500, which plays Twilio's
 * "application error" to the caller; now the caller hears a short apology and the call
 * ends. Once the business's settings change through the API, every instance reloads it
 * into the cache, and the next call in an outage is connected to the agent.
 */
describe('a call arriving while the database is unreachable', () => {
  let app: TestApp;
  let admin: pg.Client;
  let businessId: string;

  beforeAll(async () => {
    app = await startTestApp(callEnvironment({ OPENAI_REALTIME_URL: 'ws://127.0.0.1:9' }), { jobHandlers: {} });
    businessId = (await createBusiness(app.services.orm.em, { phone: businessNumber, name: 'שיפוצי הגליל' })).id;
    admin = new pg.Client({ connectionString: app.database.url.replace(/\/[^/?]+(\?|$)/, '/postgres$1') });
    await admin.connect();
  });
  afterAll(async () => {
    await admin.query(`alter database ${app.database.name} with allow_connections true`);
    await admin.end();
    await app.stop();
  });

  /** No new connection to the app's database, and the open ones cut: as when Postgres is down. */
  async function cutDatabase(): Promise<void> {
    await admin.query(`alter database ${app.database.name} with allow_connections false`);
    await admin.query(`select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()`, [app.database.name]);
  }

  it('is answered with an apology and a hang-up, not a 500 (regression: Twilio played "application error")', async () => {
    await cutDatabase();
    const failedBefore = app.services.metrics.get('twilio_voice_failed_total');

    const params = inboundCallParams({ accountSid: twilioAccountSid, callSid: `CA${'d'.repeat(32)}`, from: sarahsNumber, to: businessNumber });
    const response = await postTwilioWebhook(app.url, '/twilio/voice', params);

    expect(response.status).toBe(200);
    expect(response.body).toContain('<Say');
    expect(response.body).toContain('מצטערים, יש לנו תקלה טכנית');
    expect(response.body).toContain('<Hangup/>');
    expect(response.body).not.toContain('<Stream');
    expect(app.services.metrics.get('twilio_voice_failed_total') - failedBefore).toBe(1);
  });

  it('is connected to the agent once a settings change has put the business in the routing cache', async () => {
    await admin.query(`alter database ${app.database.name} with allow_connections true`);
    const { key } = await issueApiKey(app.services.orm.em.fork(), { businessId, role: 'admin', name: 'admin' });
    const update = await graphql(app.url, key, 'mutation { updateBusinessSettings(input: { greetingTemplate: "שלום, כאן שיפוצי הגליל" }) { __typename } }');
    expect(update.errors).toBeUndefined();
    await eventually(() => app.services.metrics.render(), (text) => /callwatch_routing_cache_numbers 1\b/.test(text), 'the cache to reload the business');
    await cutDatabase();

    const callSid = `CA${'e'.repeat(32)}`;
    const response = await postTwilioWebhook(app.url, '/twilio/voice', inboundCallParams({ accountSid: twilioAccountSid, callSid, from: sarahsNumber, to: businessNumber }));
    expect(response.status).toBe(200);
    const check = verifyStreamToken(streamOf(response.body).token, app.services.config.appSecret);
    expect(check.ok && check.claims).toMatchObject({ callSid, businessId, leadId: null });
    expect(app.services.metrics.get('twilio_voice_offline_total')).toBe(1);
  });
});
