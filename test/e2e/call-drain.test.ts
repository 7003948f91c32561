import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BusinessSettings } from '../../src/entities/business-settings.entity.ts';
import { callDrainSeconds, defaultCallDrainCapSec } from '../../src/realtime/call-drain.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import { createBusiness } from '../support/factories.ts';

/**
 * How long a shutdown lets live calls finish (SHUTDOWN_CALL_DRAIN_SEC, or by default the
 * longest maximum call duration of any business, read from Postgres when shutdown begins).
 */
describe('the call drain at shutdown', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ ROLE: 'api' }, { jobHandlers: {} });
  });
  afterAll(() => app?.stop());

  const drainOf = (shutdownCallDrainSec: number | undefined) => callDrainSeconds({ ...app.services, config: { ...app.services.config, shutdownCallDrainSec } });
  const setMaxDuration = async (businessId: string, maxCallDurationSec: number) => {
    const em = app.services.orm.em.fork();
    (await em.findOneOrFail(BusinessSettings, { business: businessId })).maxCallDurationSec = maxCallDurationSec;
    await em.flush();
  };

  it('is SHUTDOWN_CALL_DRAIN_SEC when set', async () => {
    expect(await drainOf(45)).toBe(45);
    expect(await drainOf(0)).toBe(0);
  });

  it('defaults to the longest maximum call duration of any business, at most an hour', async () => {
    const short = await createBusiness(app.services.orm.em, { phone: '+97233824101', name: 'קצר' });
    const long = await createBusiness(app.services.orm.em, { phone: '+97233824102', name: 'ארוך' });
    await setMaxDuration(short.id, 300);
    await setMaxDuration(long.id, 1800);
    expect(await drainOf(undefined)).toBe(1800);
    await setMaxDuration(long.id, 7200);
    expect(await drainOf(undefined)).toBe(defaultCallDrainCapSec);
  });
});
