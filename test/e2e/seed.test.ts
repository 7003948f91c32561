import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { hashApiKey } from '../../src/core/auth.ts';
import { ApiKey } from '../../src/entities/api-key.entity.ts';
import { Appointment } from '../../src/entities/appointment.entity.ts';
import { Business } from '../../src/entities/business.entity.ts';
import { Call } from '../../src/entities/call.entity.ts';
import { Lead } from '../../src/entities/lead.entity.ts';
import { useTestDatabase } from '../support/database.ts';

const run = promisify(execFile);

describe('npm run seed:demo', () => {
  const db = useTestDatabase();

  async function seed(): Promise<string> {
    const { stdout } = await run(process.execPath, ['src/cli/seed-demo.ts'], {
      env: { PATH: process.env.PATH, DATABASE_URL: db.database.url, NODE_ENV: 'test' },
    });
    const key = /API key \(admin\).*: (cw_\S+)/.exec(stdout)?.[1];
    if (!key) throw new Error(`no API key in output: ${stdout}`);
    return key;
  }

  it('creates a Hebrew demo business with leads, calls and appointments, and prints a working admin key', async () => {
    const key = await seed();
    const em = db.orm.em.fork();
    const [business] = await em.find(Business, {});
    expect(business).toMatchObject({ name: 'שיפוצי הגליל', timezone: 'Asia/Jerusalem', locale: 'he-IL' });
    const leads = await em.find(Lead, {}, { orderBy: { phone: 'asc' } });
    expect(leads.map((lead) => lead.firstName)).toEqual(['שרה', 'משה', 'רחל', 'יוסף']);
    expect(await em.count(Call, { status: 'completed', summary: { $ne: null } })).toBe(3);
    const appointments = await em.find(Appointment, {});
    expect(appointments).toHaveLength(2);
    for (const appointment of appointments) expect(appointment.startsAt.getTime()).toBeGreaterThan(Date.now());
    const apiKey = await em.findOneOrFail(ApiKey, { keyHash: hashApiKey(key) });
    expect(apiKey).toMatchObject({ role: 'admin', revokedAt: null });
  });

  it('leaves the data alone when run again and issues a new key', async () => {
    const key = await seed();
    const em = db.orm.em.fork();
    expect(await em.count(Business, {})).toBe(1);
    expect(await em.count(Lead, {})).toBe(4);
    expect(await em.count(ApiKey, {})).toBe(2);
    expect(await em.count(ApiKey, { keyHash: hashApiKey(key) })).toBe(1);
  });
});
