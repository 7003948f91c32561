import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueApiKey } from '../../../src/entities/api-key.repository.ts';
import { callStats } from '../../../src/entities/call.repository.ts';
import { erasedLeadPhone } from '../../../src/entities/lead.entity.ts';
import { sql } from '../../../src/entities/sql.ts';
import { createCall, createLead } from '../../support/factories.ts';
import { createTenant, graphql, type Tenant } from '../../support/graphql.ts';
import { startPipelineHarness, type PipelineHarness } from '../../support/pipeline.ts';

/**
 * Threat: a person asks what a business holds about them, or asks to be forgotten (Israel's
 * Privacy Protection Law, Amendment 13), and their name, number, words and voice stay
 * scattered over leads, calls, webhook payloads and Twilio's recordings.
 * Defence: `exportLeadData` (admin) returns everything stored about the lead as JSON;
 * `eraseLead` (admin) removes their personal data, transcripts, summaries, extracted fields,
 * timelines, webhook deliveries and recordings (at Twilio too), keeping anonymous counts.
 * Other roles are refused; another business's lead is NOT_FOUND.
 */

const exportQuery = `query ($leadId: ID!) { exportLeadData(leadId: $leadId) { __typename ... on LeadDataExport { exportedAt data } ... on Error { message } } }`;
const eraseMutation = `mutation ($leadId: ID!) { eraseLead(leadId: $leadId) { __typename ... on LeadErasure { callsErased recordingsDeleted recordingsPending lead { id phone fullName firstName city notes erasedAt } } ... on Error { message } } }`;

const michalsNumber = '+972501112233';

describe('exporting and erasing a lead', () => {
  let h: PipelineHarness;
  let keys: Tenant['keys'];
  let other: Tenant;
  let otherLeadId: string;
  const em = () => h.app.services.orm.em.fork();
  const stats = () => callStats(em(), h.businessId, new Date('2020-01-01T00:00:00Z'), new Date(Date.now() + 60_000));
  const ids: { recorded: string; unlinked: string; outbound: string; stranger: string; recordingSid: string } = {} as never;

  beforeAll(async () => {
    h = await startPipelineHarness({ workers: false });
    keys = {} as Tenant['keys'];
    for (const role of ['admin', 'supervisor', 'viewer'] as const) keys[role] = (await issueApiKey(em(), { businessId: h.businessId, role, name: role })).key;
    other = await createTenant(h.app.services.orm.em);
    otherLeadId = (await createLead(em(), { id: other.businessId }, { fullName: 'Other Person' })).id;

    const content = { summary: 'מיכל: נזילה בתל אביב', finalTranscript: 'Caller: יש לי נזילה', extracted: { budget_nis: 500 }, extractedCity: 'תל אביב', timeline: [{ type: 'tool', name: 'book_appointment' }] as never };
    const { call, recordingSid } = await h.recordedCall(content);
    await h.storeRecording(call, recordingSid, 12);
    await sql(em()).insertInto('WebhookDelivery').values({ business: h.businessId, call: call.id, event: 'call.completed', url: 'https://crm.example/hook', payload: { from: michalsNumber, summary: content.summary } }).execute();
    await sql(em()).insertInto('Appointment').values({ business: h.businessId, lead: h.leadId, call: call.id, startsAt: new Date('2031-05-01T08:00:00Z'), endsAt: new Date('2031-05-01T08:30:00Z'), notes: 'מיכל, קומה 3' }).execute();
    await sql(em()).insertInto('OutboundCallJob').values({ business: h.businessId, lead: h.leadId, purpose: 'לחזור למיכל לגבי הנזילה', scheduledAt: new Date('2031-05-02T08:00:00Z') }).execute();
    // Her number called before the lead existed: not linked, still hers.
    const unlinked = await createCall(em(), h.businessId, { fromNumber: michalsNumber, summary: 'מיכל שאלה על מחירים' });
    const outbound = await createCall(em(), h.businessId, { direction: 'outbound', lead: h.leadId, fromNumber: '+97233824155', toNumber: michalsNumber, summary: 'חזרנו למיכל' });
    const stranger = await createCall(em(), h.businessId, { fromNumber: '+972509998877', summary: 'Someone else’s call' });
    Object.assign(ids, { recorded: call.id, unlinked: unlinked.id, outbound: outbound.id, stranger: stranger.id, recordingSid });
  });
  afterAll(() => h?.stop());

  it('refuses viewers and supervisors, and changes nothing', async () => {
    for (const role of ['viewer', 'supervisor'] as const) {
      for (const query of [exportQuery, eraseMutation]) {
        const response = await graphql(h.app.url, keys[role], query, { leadId: h.leadId });
        expect(response.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      }
    }
    const lead = await sql(em()).selectFrom('Lead').selectAll().where('id', '=', h.leadId).executeTakeFirstOrThrow();
    expect(lead).toMatchObject({ phone: michalsNumber, fullName: 'מיכל כהן', erasedAt: null });
  });

  it('answers NotFoundError for another business’s lead, and ValidationError for a malformed id', async () => {
    for (const query of [exportQuery, eraseMutation]) {
      const response = await graphql(h.app.url, keys.admin, query, { leadId: otherLeadId });
      expect(Object.values(response.data ?? {})[0]).toMatchObject({ __typename: 'NotFoundError' });
      const malformed = await graphql(h.app.url, keys.admin, query, { leadId: 'not-a-uuid' });
      expect(Object.values(malformed.data ?? {})[0]).toMatchObject({ __typename: 'ValidationError' });
    }
    const otherLead = await sql(em()).selectFrom('Lead').selectAll().where('id', '=', otherLeadId).executeTakeFirstOrThrow();
    expect(otherLead).toMatchObject({ fullName: 'Other Person', erasedAt: null });
  });

  it('exports everything stored about the person', async () => {
    const response = await graphql(h.app.url, keys.admin, exportQuery, { leadId: h.leadId });
    const exported = response.data?.exportLeadData;
    expect(exported.__typename).toBe('LeadDataExport');
    const data = exported.data;
    expect(data.lead).toMatchObject({ id: h.leadId, phone: michalsNumber, fullName: 'מיכל כהן' });
    expect(data.calls.map((call: { id: string }) => call.id).sort()).toEqual([ids.recorded, ids.unlinked, ids.outbound].sort());
    const recorded = data.calls.find((call: { id: string }) => call.id === ids.recorded);
    expect(recorded).toMatchObject({ summary: 'מיכל: נזילה בתל אביב', recordingSid: ids.recordingSid, extracted: { budget_nis: 500 } });
    expect(recorded.transcriptTurns).toHaveLength(2);
    expect(data.storedRecordings).toEqual([expect.objectContaining({ callId: ids.recorded, contentType: 'audio/x-wav', bytes: 12 })]);
    expect(data.appointments).toEqual([expect.objectContaining({ notes: 'מיכל, קומה 3' })]);
    expect(data.outboundCallJobs).toEqual([expect.objectContaining({ purpose: 'לחזור למיכל לגבי הנזילה' })]);
    expect(data.webhookDeliveries).toEqual([expect.objectContaining({ event: 'call.completed', payload: expect.objectContaining({ from: michalsNumber }) })]);
    expect(JSON.stringify(data)).not.toContain('Someone else');
  });

  it('erases the person everywhere, Twilio recordings included (a Twilio failure is retried by erasing again), and every call still counts', async () => {
    const before = await stats();
    h.twilioApi.failNext(500);
    const first = await graphql(h.app.url, keys.admin, eraseMutation, { leadId: h.leadId });
    expect(first.data?.eraseLead).toMatchObject({ __typename: 'LeadErasure', callsErased: 3, recordingsDeleted: 0, recordingsPending: 1 });
    expect(h.twilioApi.deletedRecordings).toEqual([]);

    const second = await graphql(h.app.url, keys.admin, eraseMutation, { leadId: h.leadId });
    expect(second.data?.eraseLead).toMatchObject({ callsErased: 3, recordingsDeleted: 1, recordingsPending: 0 });
    expect(h.twilioApi.deletedRecordings).toEqual([ids.recordingSid]);
    expect(h.twilioApi.recordings.some((recording) => recording.sid === ids.recordingSid)).toBe(false);
    const placeholder = erasedLeadPhone(h.leadId);
    expect(second.data?.eraseLead.lead).toMatchObject({ id: h.leadId, phone: placeholder, fullName: null, firstName: null, city: null, notes: null });
    expect(second.data?.eraseLead.lead.erasedAt).toEqual(first.data?.eraseLead.lead.erasedAt);

    // Nothing of hers is left in the database.
    const calls = await sql(em()).selectFrom('Call').selectAll().where('id', 'in', [ids.recorded, ids.unlinked, ids.outbound]).execute();
    for (const call of calls) {
      expect(call).toMatchObject({ summary: null, finalTranscript: null, extracted: null, extractedCity: null, transcriptTurns: [], timeline: [], recordingSid: null, recordingUrl: null, lead: h.leadId });
      expect(call.direction === 'inbound' ? call.fromNumber : call.toNumber).toBe(placeholder);
    }
    expect(await sql(em()).selectFrom('CallRecording').select('call').where('call', '=', ids.recorded).execute()).toEqual([]);
    expect(await sql(em()).selectFrom('WebhookDelivery').select('id').where('call', '=', ids.recorded).execute()).toEqual([]);
    expect(await sql(em()).selectFrom('Appointment').select('notes').where('lead', '=', h.leadId).execute()).toEqual([{ notes: null }]);
    expect(await sql(em()).selectFrom('OutboundCallJob').select(['purpose', 'status']).where('lead', '=', h.leadId).execute()).toEqual([{ purpose: '', status: 'canceled' }]);
    const exported = (await graphql(h.app.url, keys.admin, exportQuery, { leadId: h.leadId })).data?.exportLeadData.data;
    const text = JSON.stringify(exported);
    for (const trace of [michalsNumber, 'מיכל', 'נזילה', 'תל אביב', 'budget_nis']) expect(text).not.toContain(trace);

    // Someone else's call is untouched; every call still counts.
    expect(await sql(em()).selectFrom('Call').select(['summary', 'fromNumber']).where('id', '=', ids.stranger).executeTakeFirstOrThrow()).toEqual({ summary: 'Someone else’s call', fromNumber: '+972509998877' });
    const after = await stats();
    expect({ total: after.total, byStatus: after.byStatus, byDirection: after.byDirection }).toEqual({ total: before.total, byStatus: before.byStatus, byDirection: before.byDirection });
  });
});
