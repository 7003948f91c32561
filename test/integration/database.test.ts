import { migrations } from '../../migrations/index.ts';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, openOrm } from '../../src/database.ts';
import { isAppError } from '../../src/core/errors.ts';
import { bookAppointment } from '../../src/entities/appointment.repository.ts';
import { Appointment } from '../../src/entities/appointment.entity.ts';
import { entities } from '../../src/entities/index.ts';
import { createTestDatabase, useTestDatabase, type TestDatabase } from '../support/database.ts';
import { createBusiness } from '../support/factories.ts';

const at = (time: string) => new Date(`2026-12-01T${time}:00+02:00`);

describe('schema and migrations', () => {
  const db = useTestDatabase();
  let empty: TestDatabase;

  beforeAll(async () => {
    empty = await createEmptyDatabase();
  });
  afterAll(async () => {
    await empty?.drop();
  });

  it('creates a table for every entity on an empty database', async () => {
    const fresh = await openOrm(empty.url);
    try {
      expect(await migrate(fresh)).toEqual(migrations.map((migration) => migration.name));
      const rows = await fresh.em.fork().execute<{ table_name: string }[]>(
        `select table_name from information_schema.tables where table_schema = 'public'`,
      );
      const tables = rows.map((row) => row.table_name).sort();
      const expected = entities.map((entity) => entity.meta.tableName).sort();
      expect(expected).toEqual([
        'api_keys',
        'appointments',
        'audit_log',
        'business_settings',
        'businesses',
        'call_recordings',
        'calls',
        'campaigns',
        'dialer_pace',
        'instance_heartbeats',
        'leads',
        'outbound_call_jobs',
        'phone_numbers',
        'webhook_deliveries',
      ]);
      expect(tables).toEqual([...expected, 'mikro_orm_migrations'].sort());
    } finally {
      await fresh.close();
    }
  });

  it('does nothing when migrations have already run, even from several processes at once', async () => {
    const others = await Promise.all([openOrm(db.database.url), openOrm(db.database.url)]);
    try {
      const ran = await Promise.all([migrate(db.orm), ...others.map((other) => migrate(other))]);
      expect(ran).toEqual([[], [], []]);
    } finally {
      await Promise.all(others.map((other) => other.close()));
    }
  });

  it('matches the entities exactly, apart from the exclusion constraint entities cannot express', async () => {
    const drift = await db.orm.schema.getUpdateSchemaSQL({ wrap: false });
    expect(drift.trim()).toBe('alter table "appointments" drop constraint "appointments_no_overlap";');
  });

  it('enforces unique keys: call sid, lead phone per business, API key hash', async () => {
    const rows = await db.orm.em.fork().execute<{ conname: string }[]>(
      `select conname from pg_constraint where contype = 'u' order by conname`,
    );
    expect(rows.map((row) => row.conname)).toEqual(
      expect.arrayContaining([
        'api_keys_key_hash_unique',
        'calls_call_sid_unique',
        'leads_business_phone_unique',
        'webhook_deliveries_call_event_revision_unique',
      ]),
    );
  });
});

describe('appointments cannot overlap', () => {
  const db = useTestDatabase();
  const rootEm = () => db.orm.em;

  it('rejects a second booked appointment overlapping the first for the same business', async () => {
    const business = await createBusiness(rootEm());
    await bookAppointment(rootEm(), { businessId: business.id, startsAt: at('10:00'), endsAt: at('10:30') });

    const overlap = bookAppointment(rootEm(), { businessId: business.id, startsAt: at('10:15'), endsAt: at('10:45') });
    await expect(overlap).rejects.toSatisfy((error) => isAppError(error, 'CONFLICT'));

    const booked = await rootEm().fork().find(Appointment, { business: business.id });
    expect(booked).toHaveLength(1);
  });

  it('is enforced by the database itself, not only by the repository', async () => {
    const business = await createBusiness(rootEm());
    const insert = `insert into appointments (id, business_id, starts_at, ends_at, status, created_at, updated_at)
                    values (gen_random_uuid(), ?, ?, ?, 'booked', now(), now())`;
    const em = rootEm().fork();
    await em.execute(insert, [business.id, at('12:00'), at('13:00')]);
    await expect(em.execute(insert, [business.id, at('12:59'), at('13:30')])).rejects.toMatchObject({
      code: '23P01',
      constraint: 'appointments_no_overlap',
    });
  });

  it('accepts the same time for two different businesses', async () => {
    const [first, second] = [await createBusiness(rootEm()), await createBusiness(rootEm())];
    const slot = { startsAt: at('11:00'), endsAt: at('11:30') };
    const booked = await Promise.all([
      bookAppointment(rootEm(), { businessId: first.id, ...slot }),
      bookAppointment(rootEm(), { businessId: second.id, ...slot }),
    ]);
    expect(booked.map((appointment) => appointment.status)).toEqual(['booked', 'booked']);
  });

  it('accepts back-to-back slots and a slot freed by a cancellation', async () => {
    const business = await createBusiness(rootEm());
    const first = await bookAppointment(rootEm(), { businessId: business.id, startsAt: at('14:00'), endsAt: at('14:30') });
    await bookAppointment(rootEm(), { businessId: business.id, startsAt: at('14:30'), endsAt: at('15:00') });

    const em = rootEm().fork();
    const reloaded = await em.findOneOrFail(Appointment, first.id);
    reloaded.status = 'canceled';
    await em.flush();
    const rebooked = await bookAppointment(rootEm(), { businessId: business.id, startsAt: at('14:00'), endsAt: at('14:30') });
    expect(rebooked.status).toBe('booked');
  });

  it('lets exactly one of two simultaneous bookings of one slot win', async () => {
    const business = await createBusiness(rootEm());
    const slot = { businessId: business.id, startsAt: at('16:00'), endsAt: at('16:30') };
    const results = await Promise.allSettled([bookAppointment(rootEm(), slot), bookAppointment(rootEm(), slot)]);
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
    const [rejected] = results.filter((result) => result.status === 'rejected');
    expect(isAppError(rejected?.reason, 'CONFLICT')).toBe(true);
  });

  it('refuses an appointment that ends before it starts', async () => {
    const business = await createBusiness(rootEm());
    const backwards = bookAppointment(rootEm(), { businessId: business.id, startsAt: at('09:00'), endsAt: at('08:00') });
    await expect(backwards).rejects.toSatisfy((error) => isAppError(error, 'VALIDATION_FAILED'));
  });
});

/** A database with nothing in it, to watch the migrations build everything. */
async function createEmptyDatabase(): Promise<TestDatabase> {
  const template = await createTestDatabase();
  const client = new pg.Client({ connectionString: template.url });
  await client.connect();
  try {
    await client.query('drop schema public cascade; drop schema pgboss cascade; create schema public;');
  } finally {
    await client.end();
  }
  return template;
}
