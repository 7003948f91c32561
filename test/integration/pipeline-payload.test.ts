import { describe, expect, it } from 'vitest';
import { insertAppointment } from '../../src/entities/appointment.repository.ts';
import { listCalls } from '../../src/entities/call.repository.ts';
import { sql } from '../../src/entities/sql.ts';
import { callCompletedPayload } from '../../src/workers/pipeline/payload.ts';
import { loadPipelineCall } from '../../src/workers/pipeline/state.ts';
import { useTestDatabase } from '../support/database.ts';
import { createBusiness, createCall, createLead } from '../support/factories.ts';

/**
 * Rows that travel inside another row as JSON (Kysely's `jsonObjectFrom`) come back with
 * the database's column names and timestamps as strings, whatever Kysely's types say.
 * These read them on real Postgres.
 */
describe('rows carried along as JSON', () => {
  const db = useTestDatabase();

  it('puts the booked appointment into call.completed as { id, starts_at, ends_at, status } in ISO (regression: read as startsAt/endsAt, the payload threw and the webhook never went out)', async () => {
    const em = db.orm.em.fork();
    const business = await createBusiness(em);
    const lead = await createLead(em, business);
    const call = await createCall(em, business.id, { lead: lead.id });
    const appointment = (startsAt: string, minutes: number) => ({ businessId: business.id, leadId: lead.id, callId: call.id, startsAt: new Date(startsAt), endsAt: new Date(Date.parse(startsAt) + minutes * 60_000) });
    // A booking the caller canceled in the same call is not the call's appointment.
    const canceled = await insertAppointment(em, appointment('2026-11-23T07:00:00Z', 30));
    await sql(em).updateTable('Appointment').set({ status: 'canceled' }).where('id', '=', canceled.id).execute();
    const booked = await insertAppointment(em, appointment('2026-11-23T08:00:00Z', 45));

    const loaded = await loadPipelineCall(em, call.id);
    expect(loaded?.appointment).toEqual({ id: booked.id, startsAt: new Date('2026-11-23T08:00:00Z'), endsAt: new Date('2026-11-23T08:45:00Z'), status: 'booked' });
    const payload = callCompletedPayload(loaded!, new Date());
    expect(payload.appointment).toEqual({ id: booked.id, starts_at: '2026-11-23T08:00:00.000Z', ends_at: '2026-11-23T08:45:00.000Z', status: 'booked' });
  });

  it('gives a page of calls each lead as the row a query of the lead reads', async () => {
    const em = db.orm.em.fork();
    const business = await createBusiness(em);
    const lead = await createLead(em, business, { fullName: 'ד״ר שרה לוי', firstName: 'שרה', gender: 'female' });
    await createCall(em, business.id, { lead: lead.id });

    const page = await listCalls(em, business.id, {}, { first: 10, after: null, withTotal: false });
    const row = await sql(em).selectFrom('Lead').selectAll().where('id', '=', lead.id).executeTakeFirstOrThrow();
    expect(page.leads).toEqual([row]);
    expect(page.leads[0]?.createdAt).toBeInstanceOf(Date);
  });
});
