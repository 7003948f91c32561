import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { businessNumber, sarahsNumber } from '../support/calls.ts';
import { createBusiness } from '../support/factories.ts';
import { callEnvironment, inboundCallParams, postTwilioWebhook, twilioAccountSid } from '../support/twilio.ts';

/**
 * Fault: the database is unreachable when a call comes in (nothing can route it to its
 * business). Today's answer to Twilio was a 500, which plays Twilio's "application error" to
 * the caller; now the caller hears a short apology and the call ends.
 */
describe('a call arriving while the database is unreachable', () => {
  let app: TestApp;
  let admin: pg.Client;

  beforeAll(async () => {
    app = await startTestApp(callEnvironment({ OPENAI_REALTIME_URL: 'ws://127.0.0.1:9' }), { jobHandlers: {} });
    await createBusiness(app.services.orm.em, { phone: businessNumber, name: 'שיפוצי הגליל' });
    admin = new pg.Client({ connectionString: app.database.url.replace(/\/[^/?]+(\?|$)/, '/postgres$1') });
    await admin.connect();
  });
  afterAll(async () => {
    await admin.query(`alter database ${app.database.name} with allow_connections true`);
    await admin.end();
    await app.stop();
  });

  it('is answered with an apology and a hang-up, not a 500 (regression: Twilio played "application error")', async () => {
    // No new connection to the app's database, and the open ones cut: as when Postgres is down.
    await admin.query(`alter database ${app.database.name} with allow_connections false`);
    await admin.query(`select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()`, [app.database.name]);
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
});
