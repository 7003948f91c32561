import { describe, expect, it } from 'vitest';
import { secretBoxOf } from '../../src/core/secret-box.ts';
import { sql } from '../../src/entities/sql.ts';
import { createLead } from '../support/factories.ts';
import { graphql, useApiTenant, type Tenant } from '../support/graphql.ts';

const api = useApiTenant();
const em = () => api.app.services.orm.em.fork();
const as = (role: keyof Tenant['keys']) => (query: string, variables: Record<string, unknown> = {}) =>
  graphql(api.app.url, api.tenant.keys[role], query, variables);

describe('leads', () => {
  const create = `mutation ($input: CreateLeadInput!) {
    createLead(input: $input) {
      __typename
      ... on Lead { id phone fullName firstName gender status }
      ... on Error { message }
      ... on ValidationError { fieldErrors { path message } }
    }
  }`;

  it('creates a lead with the phone normalised and the first name derived once', async () => {
    const { data } = await as('supervisor')(create, { input: { phone: '052-555-0101', fullName: 'עו״ד דנה לוי', gender: 'FEMALE' } });
    expect(data!.createLead).toMatchObject({ __typename: 'Lead', phone: '+972525550101', firstName: 'דנה', gender: 'FEMALE', status: 'NEW' });
    const found = await as('viewer')('query ($phone: String!) { leadByPhone(phone: $phone) { id } }', { phone: '+972 52-555-0101' });
    expect(found.data!.leadByPhone).toEqual({ id: data!.createLead.id });
  });

  it('answers a phone number the business already has with a ConflictError', async () => {
    await as('supervisor')(create, { input: { phone: '052-555-0102' } });
    const { data } = await as('supervisor')(create, { input: { phone: '+972525550102' } });
    expect(data!.createLead).toMatchObject({ __typename: 'ConflictError', message: expect.stringContaining('+972525550102') });
  });

  it('answers invalid input with field errors and writes nothing', async () => {
    const { data } = await as('supervisor')(create, { input: { phone: 'call me maybe', fullName: 'x' } });
    expect(data!.createLead).toEqual({
      __typename: 'ValidationError',
      message: expect.any(String),
      fieldErrors: [{ path: ['input', 'phone'], message: expect.stringContaining('is not a phone number') }],
    });
    const { data: notes } = await as('supervisor')(create, { input: { phone: '052-555-0109', notes: 'x'.repeat(5001) } });
    expect(notes!.createLead.fieldErrors).toEqual([{ path: ['input', 'notes'], message: 'must be at most 5000 characters' }]);
    const rows = await sql(em()).selectFrom('Lead').select('id').where('phone', '=', '+972525550109').execute();
    expect(rows).toEqual([]);
  });

  it('updates given fields only, re-deriving the first name, and refuses null for a required one', async () => {
    const created = await as('supervisor')(create, { input: { phone: '052-555-0103', fullName: 'מר יוסי כהן', city: 'חיפה' } });
    const id = created.data!.createLead.id;
    const update = `mutation ($id: ID!, $input: UpdateLeadInput!) {
      updateLead(id: $id, input: $input) {
        __typename
        ... on Lead { fullName firstName city status }
        ... on ValidationError { fieldErrors { path message } }
      }
    }`;
    const { data } = await as('supervisor')(update, { id, input: { fullName: 'ד״ר רונית כהן', status: 'QUALIFIED' } });
    expect(data!.updateLead).toEqual({ __typename: 'Lead', fullName: 'ד״ר רונית כהן', firstName: 'רונית', city: 'חיפה', status: 'QUALIFIED' });
    const cleared = await as('supervisor')(update, { id, input: { city: null } });
    expect(cleared.data!.updateLead.city).toBeNull();
    const invalid = await as('supervisor')(update, { id, input: { status: null } });
    expect(invalid.data!.updateLead.fieldErrors).toEqual([{ path: ['input', 'status'], message: 'must not be null' }]);
  });
});

describe('appointments', () => {
  const book = `mutation ($input: BookAppointmentInput!) {
    bookAppointment(input: $input) {
      __typename
      ... on Appointment { id startsAt endsAt status lead { id } }
      ... on Error { message }
      ... on ValidationError { fieldErrors { path message } }
    }
  }`;

  it('books a slot of the business’s default length, and answers an overlap with a ConflictError (not a 500)', async () => {
    const lead = await createLead(em(), { id: api.tenant.businessId });
    const first = await as('supervisor')(book, { input: { leadId: lead.id, startsAt: '2026-12-06T08:00:00Z' } });
    expect(first.data!.bookAppointment).toMatchObject({
      __typename: 'Appointment',
      startsAt: '2026-12-06T08:00:00.000Z',
      endsAt: '2026-12-06T08:30:00.000Z',
      status: 'BOOKED',
      lead: { id: lead.id },
    });
    const overlap = await as('supervisor')(book, { input: { startsAt: '2026-12-06T08:15:00+00:00', endsAt: '2026-12-06T09:00:00Z' } });
    expect(overlap.status).toBe(200);
    expect(overlap.errors).toBeUndefined();
    expect(overlap.data!.bookAppointment).toEqual({ __typename: 'ConflictError', message: 'That time is already booked.' });
    const backToBack = await as('supervisor')(book, { input: { startsAt: '2026-12-06T08:30:00Z' } });
    expect(backToBack.data!.bookAppointment.__typename).toBe('Appointment');
  });

  it('frees the slot when an appointment is canceled, and lists by window and lead', async () => {
    const lead = await createLead(em(), { id: api.tenant.businessId });
    const booked = await as('supervisor')(book, { input: { leadId: lead.id, startsAt: '2026-12-07T10:00:00Z' } });
    const id = booked.data!.bookAppointment.id;
    const cancel = `mutation ($id: ID!) { cancelAppointment(id: $id) { __typename ... on Appointment { status } ... on Error { message } } }`;
    expect((await as('supervisor')(cancel, { id })).data!.cancelAppointment).toEqual({ __typename: 'Appointment', status: 'CANCELED' });
    expect((await as('supervisor')(cancel, { id })).data!.cancelAppointment).toEqual({ __typename: 'Appointment', status: 'CANCELED' });
    const again = await as('supervisor')(book, { input: { leadId: lead.id, startsAt: '2026-12-07T10:00:00Z' } });
    expect(again.data!.bookAppointment.__typename).toBe('Appointment');

    const list = `query ($from: DateTime!, $to: DateTime!, $leadId: ID) { appointments(from: $from, to: $to, leadId: $leadId) { id status } }`;
    const { data } = await as('viewer')(list, { from: '2026-12-07T00:00:00Z', to: '2026-12-08T00:00:00Z', leadId: lead.id });
    expect(data!.appointments.map((row: { status: string }) => row.status).sort()).toEqual(['BOOKED', 'CANCELED']);
  });

  it('refuses an appointment that ends before it starts, naming the field', async () => {
    const { data } = await as('supervisor')(book, { input: { startsAt: '2026-12-08T10:00:00Z', endsAt: '2026-12-08T09:00:00Z' } });
    expect(data!.bookAppointment.fieldErrors).toEqual([{ path: ['input', 'endsAt'], message: 'The appointment must end after it starts.' }]);
  });
});

describe('outbound calls', () => {
  it('schedules a call with its dial job in the queue, and cancels it', async () => {
    const lead = await createLead(em(), { id: api.tenant.businessId });
    const at = new Date(Date.now() + 3_600_000).toISOString();
    const schedule = `mutation ($input: ScheduleOutboundCallInput!) {
      scheduleOutboundCall(input: $input) {
        __typename
        ... on OutboundCallJob { id status scheduledAt purpose lead { id } }
        ... on ValidationError { fieldErrors { path message } }
      }
    }`;
    const { data } = await as('supervisor')(schedule, { input: { leadId: lead.id, at, purpose: 'לאשר את הביקור של מחר' } });
    const job = data!.scheduleOutboundCall;
    expect(job).toMatchObject({ __typename: 'OutboundCallJob', status: 'QUEUED', scheduledAt: at, lead: { id: lead.id } });
    const queued = await api.app.services.orm.em
      .fork()
      .execute<{ start_after: Date }[]>(`select start_after from pgboss.job where name = 'outbound.dial' and data->>'outboundJobId' = ?`, [job.id]);
    expect(queued).toHaveLength(1);
    expect(new Date(queued[0]!.start_after).toISOString()).toBe(at);

    const past = await as('supervisor')(schedule, { input: { leadId: lead.id, at: '2020-01-01T00:00:00Z', purpose: 'x' } });
    expect(past.data!.scheduleOutboundCall.fieldErrors).toEqual([{ path: ['input', 'at'], message: 'must not be in the past' }]);

    const cancel = `mutation ($id: ID!) { cancelOutboundCall(id: $id) { __typename ... on OutboundCallJob { status } } }`;
    expect((await as('supervisor')(cancel, { id: job.id })).data!.cancelOutboundCall).toEqual({ __typename: 'OutboundCallJob', status: 'CANCELED' });
    const list = await as('viewer')(`{ outboundCallJobs(status: [CANCELED]) { totalCount nodes { id } } }`);
    expect(list.data!.outboundCallJobs).toEqual({ totalCount: 1, nodes: [{ id: job.id }] });
  });
});

describe('business settings and keys', () => {
  const settings = `mutation ($input: UpdateBusinessSettingsInput!) {
    updateBusinessSettings(input: $input) {
      __typename
      ... on BusinessSettings { inboundWebhookUrl silenceTimeoutSec transferNumber workingHours }
      ... on ValidationError { fieldErrors { path message } }
    }
  }`;

  it('validates webhook URLs and other settings field by field', async () => {
    for (const [input, path] of [
      [{ inboundWebhookUrl: 'ftp://crm.example.com/hook' }, 'inboundWebhookUrl'],
      [{ outboundWebhookUrl: 'https://user:pw@crm.example.com/hook' }, 'outboundWebhookUrl'],
      [{ inboundWebhookUrl: 'not a url' }, 'inboundWebhookUrl'],
      [{ silenceTimeoutSec: 1 }, 'silenceTimeoutSec'],
      [{ silenceTimeoutSec: null }, 'silenceTimeoutSec'],
      [{ workingHours: { '7': [] } }, 'workingHours'],
      [{ workingHours: { '0': [{ open: '18:00', close: '09:00' }] } }, 'workingHours'],
    ] as const) {
      const { data } = await as('admin')(settings, { input });
      expect(data!.updateBusinessSettings.__typename, JSON.stringify(input)).toBe('ValidationError');
      expect(data!.updateBusinessSettings.fieldErrors[0].path.slice(0, 2)).toEqual(['input', path]);
    }
    const { data } = await as('admin')(settings, {
      input: { inboundWebhookUrl: 'https://crm.example.com/hooks/calls', silenceTimeoutSec: 10, transferNumber: '03-555-0000' },
    });
    expect(data!.updateBusinessSettings).toMatchObject({
      __typename: 'BusinessSettings',
      inboundWebhookUrl: 'https://crm.example.com/hooks/calls',
      silenceTimeoutSec: 10,
      transferNumber: '+97235550000',
    });
  });

  it('rotates the webhook secret, showing the new one once', async () => {
    const before = await sql(em()).selectFrom('BusinessSettings').select('webhookSecret').where('business', '=', api.tenant.businessId).executeTakeFirstOrThrow();
    const { data } = await as('admin')('mutation { rotateWebhookSecret { webhookSecret } }');
    expect(data!.rotateWebhookSecret.webhookSecret).toMatch(/^whsec_/);
    const after = await sql(em()).selectFrom('BusinessSettings').select('webhookSecret').where('business', '=', api.tenant.businessId).executeTakeFirstOrThrow();
    // Stored sealed (test/e2e/security/webhook-secret-at-rest.test.ts): it opens to what was shown.
    expect(after.webhookSecret).not.toBe(before.webhookSecret);
    expect(secretBoxOf(api.app.services.config).open(after.webhookSecret!, api.tenant.businessId)).toBe(data!.rotateWebhookSecret.webhookSecret);
  });

  it('creates a business for the platform admin, refusing a number another business has', async () => {
    const create = `mutation ($input: CreateBusinessInput!) {
      createBusiness(input: $input) {
        __typename
        ... on CreateBusinessPayload { key business { name timezone phoneNumbers } apiKey { role } }
        ... on Error { message }
      }
    }`;
    const platform = api.app.services.config.adminApiKey;
    const { data } = await graphql(api.app.url, platform, create, { input: { name: 'מרפאת שיניים', phoneNumbers: ['04-555-1234'] } });
    expect(data!.createBusiness).toMatchObject({
      __typename: 'CreateBusinessPayload',
      business: { name: 'מרפאת שיניים', timezone: 'Asia/Jerusalem', phoneNumbers: ['+97245551234'] },
      apiKey: { role: 'ADMIN' },
    });
    const viewer = await graphql(api.app.url, data!.createBusiness.key, '{ viewer { role business { name } } }');
    expect(viewer.data!.viewer).toEqual({ role: 'ADMIN', business: { name: 'מרפאת שיניים' } });
    const taken = await graphql(api.app.url, platform, create, { input: { name: 'Other', phoneNumbers: ['+97245551234'] } });
    expect(taken.data!.createBusiness.__typename).toBe('ConflictError');
  });
});
