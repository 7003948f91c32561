import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey } from '../../src/core/auth.ts';
import { secretBoxOf } from '../../src/core/secret-box.ts';
import { sql } from '../../src/entities/sql.ts';
import { graphql, startApiApp, type GraphQLResponse } from '../support/graphql.ts';
import {
  bookedAppointment,
  leadWithPhone,
  nextPhone,
  nextSlot,
  activeCampaign,
  queuedOutboundCall,
  seedTenant,
  snapshotBusiness,
  spareApiKey,
  unique,
  type SeededTenant,
} from '../support/tenant-data.ts';

/**
 * Who may see and change what through /graphql: a business's key sees and changes only
 * that business's rows (another business's ids behave as if they did not exist), each role
 * can do what its description promises and nothing more, and the platform key creates
 * businesses but reads none of their data.
 *
 * Longer than the house limit on purpose: one set of tables (every root query, every
 * mutation) drives all the groups, and the first test fails when the schema gains a field
 * the tables do not cover.
 */

type Role = 'viewer' | 'supervisor' | 'admin';
type Variables = Record<string, unknown>;

let app: Awaited<ReturnType<typeof startApiApp>>;
const em = () => app.services.orm.em;
const ask = (key: string | null, query: string, variables?: Variables) => graphql(app.url, key, query, variables);

beforeAll(async () => {
  app = await startApiApp();
});
afterAll(async () => {
  await app?.stop();
});

const iso = (date: Date) => date.toISOString();
const slot = () => {
  const { startsAt, endsAt } = nextSlot();
  return { startsAt: iso(startsAt), endsAt: iso(endsAt) };
};
const seededWindow = { from: '2031-03-01T00:00:00.000Z', to: '2031-03-31T00:00:00.000Z' };
const aroundNow = () => ({ from: iso(new Date(Date.now() - 86_400_000)), to: iso(new Date(Date.now() + 86_400_000)) });
/** +972541234567 as people type it: 054-123-4567. */
const typedLocally = (e164: string) => `0${e164.slice(4, 6)}-${e164.slice(6, 9)}-${e164.slice(9)}`;
const keyIdOf = (tenant: SeededTenant, role: Role) => tenant.apiKeys.find((key) => key.role === role)!.id;

const auditLog = '{ auditLog(first: 100) { nodes { operation apiKeyId } } }';

/** Everything by which a response could give `tenant`'s data away. */
function tracesOf(tenant: SeededTenant): string[] {
  const { lead, call, appointment, job, delivery } = tenant;
  return [tenant.businessId, tenant.label, tenant.businessNumber, lead.id, lead.phone, call.id, call.callSid, appointment.id, job.id, delivery.id, delivery.webhookId, ...tenant.apiKeys.map((key) => key.id)];
}

function expectNoTraceOf(tenant: SeededTenant, response: GraphQLResponse) {
  const text = JSON.stringify(response);
  for (const trace of tracesOf(tenant)) expect(text, `the response shows ${tenant.label}'s ${trace}`).not.toContain(trace);
}

function expectError(response: GraphQLResponse, code: 'FORBIDDEN' | 'UNAUTHENTICATED', field: string) {
  expect(response.errors?.map((error) => ({ code: error.extensions?.code, path: error.path }))).toEqual([{ code, path: [field] }]);
}

/** Every root query, asking for `tenant`'s own rows, with what it answers when it may (every role unless `least` says otherwise). */
const rootQueries: Record<string, { query: string; variables?: (tenant: SeededTenant) => Variables; answer: (tenant: SeededTenant) => unknown; least?: Role }> = {
  health: { query: '{ health { ready } }', answer: () => ({ ready: true }) },
  viewer: { query: '{ viewer { business { id settings { agentInstructions } } } }', answer: (t) => ({ business: { id: t.businessId, settings: { agentInstructions: t.instructions } } }) },
  calls: { query: '{ calls { totalCount nodes { id } } }', answer: (t) => ({ totalCount: 1, nodes: [{ id: t.call.id }] }) },
  call: { query: 'query($id: ID!) { call(id: $id) { id } }', variables: (t) => ({ id: t.call.id }), answer: (t) => ({ id: t.call.id }) },
  callBySid: { query: 'query($sid: String!) { callBySid(callSid: $sid) { id } }', variables: (t) => ({ sid: t.call.callSid }), answer: (t) => ({ id: t.call.id }) },
  leads: { query: '{ leads { totalCount nodes { id } } }', answer: (t) => ({ totalCount: 1, nodes: [{ id: t.lead.id }] }) },
  lead: { query: 'query($id: ID!) { lead(id: $id) { id } }', variables: (t) => ({ id: t.lead.id }), answer: (t) => ({ id: t.lead.id }) },
  leadByPhone: { query: 'query($phone: String!) { leadByPhone(phone: $phone) { id } }', variables: (t) => ({ phone: t.lead.phone }), answer: (t) => ({ id: t.lead.id }) },
  appointments: {
    query: 'query($from: DateTime!, $to: DateTime!) { appointments(from: $from, to: $to) { id } }',
    variables: () => seededWindow,
    answer: (t) => [{ id: t.appointment.id }],
  },
  outboundCallJobs: { query: '{ outboundCallJobs { totalCount nodes { id } } }', answer: (t) => ({ totalCount: 1, nodes: [{ id: t.job.id }] }) },
  campaign: { query: 'query($id: ID!) { campaign(id: $id) { id } }', variables: (t) => ({ id: t.campaign.id }), answer: (t) => ({ id: t.campaign.id }) },
  node: { query: 'query($id: ID!) { node(id: $id) { __typename id } }', variables: (t) => ({ id: t.call.id }), answer: (t) => ({ __typename: 'Call', id: t.call.id }) },
  nodes: {
    query: 'query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }',
    variables: (t) => ({ ids: [t.lead.id, t.appointment.id] }),
    answer: (t) => [{ __typename: 'Lead', id: t.lead.id }, { __typename: 'Appointment', id: t.appointment.id }],
  },
  webhookDeliveries: { query: 'query($id: ID!) { webhookDeliveries(callId: $id) { id } }', variables: (t) => ({ id: t.call.id }), answer: (t) => [{ id: t.delivery.id }] },
  callStats: { query: 'query($from: DateTime!, $to: DateTime!) { callStats(from: $from, to: $to) { total } }', variables: aroundNow, answer: () => ({ total: 1 }) },
  exportLeadData: {
    query: 'query($id: ID!) { exportLeadData(leadId: $id) { __typename } }',
    variables: (t) => ({ id: t.lead.id }),
    answer: () => ({ __typename: 'LeadDataExport' }),
    least: 'admin',
  },
};

/**
 * Every business mutation with valid input on `tenant`'s own rows (`prepare` makes what it
 * acts on), the least role allowed to run it, and the result type it answers with then.
 */
const mutations: {
  mutation: string;
  least: Role;
  answers: string;
  query: string;
  prepare?: (tenant: SeededTenant) => Promise<Variables> | Variables;
  /** False for actions that store nothing here (supervisor actions on the seeded, finished call). */
  writes?: false;
}[] = [
  { mutation: 'createLead', least: 'supervisor', answers: 'Lead', query: 'mutation($phone: String!) { createLead(input: { phone: $phone }) { __typename } }', prepare: () => ({ phone: nextPhone() }) },
  {
    mutation: 'updateLead',
    least: 'supervisor',
    answers: 'Lead',
    query: 'mutation($id: ID!, $notes: String) { updateLead(id: $id, input: { notes: $notes }) { __typename } }',
    prepare: (t) => ({ id: t.lead.id, notes: unique('called back') }),
  },
  {
    mutation: 'bookAppointment',
    least: 'supervisor',
    answers: 'Appointment',
    query: 'mutation($input: BookAppointmentInput!) { bookAppointment(input: $input) { __typename } }',
    prepare: (t) => ({ input: { leadId: t.lead.id, callId: t.call.id, ...slot() } }),
  },
  {
    mutation: 'cancelAppointment',
    least: 'supervisor',
    answers: 'Appointment',
    query: 'mutation($id: ID!) { cancelAppointment(id: $id) { __typename } }',
    prepare: async (t) => ({ id: (await bookedAppointment(em(), t.businessId)).id }),
  },
  {
    mutation: 'scheduleOutboundCall',
    least: 'supervisor',
    answers: 'OutboundCallJob',
    query: 'mutation($input: ScheduleOutboundCallInput!) { scheduleOutboundCall(input: $input) { __typename } }',
    prepare: (t) => ({ input: { leadId: t.lead.id, purpose: 'confirm the visit', at: iso(new Date(Date.now() + 7 * 86_400_000)) } }),
  },
  {
    mutation: 'cancelOutboundCall',
    least: 'supervisor',
    answers: 'OutboundCallJob',
    query: 'mutation($id: ID!) { cancelOutboundCall(id: $id) { __typename } }',
    prepare: async (t) => ({ id: (await queuedOutboundCall(em(), t)).id }),
  },
  {
    mutation: 'createCampaign',
    least: 'supervisor',
    answers: 'Campaign',
    // Starts in a week: no dial runs while the other tests compare snapshots.
    query: 'mutation($input: CreateCampaignInput!) { createCampaign(input: $input) { __typename } }',
    prepare: (t) => ({ input: { name: unique('spring'), purpose: 'spring offer', leadIds: [t.lead.id], window: { from: iso(new Date(Date.now() + 7 * 86_400_000)) } } }),
  },
  {
    mutation: 'cancelCampaign',
    least: 'supervisor',
    answers: 'Campaign',
    query: 'mutation($id: ID!) { cancelCampaign(id: $id) { __typename } }',
    prepare: async (t) => ({ id: (await activeCampaign(em(), t)).id }),
  },
  { mutation: 'updateBusinessSettings', least: 'admin', answers: 'BusinessSettings', query: 'mutation { updateBusinessSettings(input: { appointmentSlotMinutes: 45 }) { __typename } }' },
  { mutation: 'rotateWebhookSecret', least: 'admin', answers: 'RotateWebhookSecretPayload', query: 'mutation { rotateWebhookSecret { __typename } }' },
  { mutation: 'createApiKey', least: 'admin', answers: 'CreateApiKeyPayload', query: 'mutation { createApiKey(input: { name: "CRM", role: VIEWER }) { __typename } }' },
  {
    mutation: 'revokeApiKey',
    least: 'admin',
    answers: 'ApiKey',
    query: 'mutation($id: ID!) { revokeApiKey(id: $id) { __typename } }',
    prepare: async (t) => ({ id: (await spareApiKey(em(), t.businessId)).id }),
  },
  { mutation: 'whisperToAgent', least: 'supervisor', answers: 'SupervisorActionResult', writes: false, query: 'mutation($id: ID!) { whisperToAgent(callId: $id, text: "hi") { __typename } }', prepare: (t) => ({ id: t.call.id }) },
  { mutation: 'transferCall', least: 'supervisor', answers: 'SupervisorActionResult', writes: false, query: 'mutation($id: ID!) { transferCall(callId: $id, to: "050-123-4567") { __typename } }', prepare: (t) => ({ id: t.call.id }) },
  { mutation: 'hangUpCall', least: 'supervisor', answers: 'SupervisorActionResult', writes: false, query: 'mutation($id: ID!) { hangUpCall(callId: $id) { __typename } }', prepare: (t) => ({ id: t.call.id }) },
  { mutation: 'reprocessCall', least: 'admin', answers: 'Call', query: 'mutation($id: ID!) { reprocessCall(callId: $id) { __typename } }', prepare: (t) => ({ id: t.call.id }) },
  {
    mutation: 'redeliverWebhook',
    least: 'admin',
    answers: 'WebhookDelivery',
    query: 'mutation($id: ID!) { redeliverWebhook(deliveryId: $id) { __typename } }',
    prepare: (t) => ({ id: t.delivery.id }),
  },
  {
    mutation: 'eraseLead',
    least: 'admin',
    answers: 'LeadErasure',
    query: 'mutation($id: ID!) { eraseLead(leadId: $id) { __typename } }',
    prepare: async (t) => ({ id: (await leadWithPhone(em(), t.businessId, nextPhone())).id }),
  },
];

const createBusiness = 'mutation($input: CreateBusinessInput!) { createBusiness(input: $input) { __typename ... on CreateBusinessPayload { key business { id name } apiKey { id name role prefix createdAt lastUsedAt revokedAt } } } }';
const roles: Role[] = ['viewer', 'supervisor', 'admin'];
const rank: Record<Role, number> = { viewer: 0, supervisor: 1, admin: 2 };

describe('the tables below cover the whole schema', () => {
  it('lists every root query and every mutation', async () => {
    const response = await ask(null, '{ __schema { queryType { fields { name } } mutationType { fields { name } } } }');
    const names = (type: { fields: { name: string }[] }) => type.fields.map((field) => field.name).sort();
    // auditLog: admins only, with its own tests below.
    expect(names(response.data?.__schema.queryType)).toEqual([...Object.keys(rootQueries), 'auditLog'].sort());
    expect(names(response.data?.__schema.mutationType)).toEqual([...mutations.map((m) => m.mutation), 'createBusiness'].sort());
  });
});

describe("tenant isolation: reading with A's key", () => {
  let a: SeededTenant;
  let b: SeededTenant;
  beforeAll(async () => {
    a = await seedTenant(em(), 'Alpha');
    b = await seedTenant(em(), 'Bravo');
  });

  // A call with every row hanging off it, each of which must be the call's own tenant's.
  const callTree = `id callSid
    lead { id calls { id } appointments { id } }
    appointments { id lead { id } call { id } }
    webhookDeliveries { id call { id } }
    outboundCallJob { id lead { id } lastCall { id } }`;
  const callTreeOf = (t: SeededTenant) => ({
    id: t.call.id,
    callSid: t.call.callSid,
    lead: { id: t.lead.id, calls: [{ id: t.call.id }], appointments: [{ id: t.appointment.id }] },
    appointments: [{ id: t.appointment.id, lead: { id: t.lead.id }, call: { id: t.call.id } }],
    webhookDeliveries: [{ id: t.delivery.id, call: { id: t.call.id } }],
    outboundCallJob: { id: t.job.id, lead: { id: t.lead.id }, lastCall: { id: t.call.id } },
  });
  const leadTree = 'id phone calls { id callSid } appointments { id call { id } }';
  const leadTreeOf = (t: SeededTenant) => ({ id: t.lead.id, phone: t.lead.phone, calls: [{ id: t.call.id, callSid: t.call.callSid }], appointments: [{ id: t.appointment.id, call: { id: t.call.id } }] });

  const ownRows: { field: string; query: string; variables?: (t: SeededTenant) => Variables; answer: (t: SeededTenant) => unknown }[] = [
    {
      field: 'viewer',
      query: '{ viewer { role apiKey { id } business { id name phoneNumbers settings { agentInstructions } } } }',
      answer: (t) => ({ role: 'ADMIN', apiKey: { id: keyIdOf(t, 'admin') }, business: { id: t.businessId, name: t.name, phoneNumbers: [t.businessNumber], settings: { agentInstructions: t.instructions } } }),
    },
    { field: 'calls', query: `{ calls(first: 10) { totalCount nodes { ${callTree} } } }`, answer: (t) => ({ totalCount: 1, nodes: [callTreeOf(t)] }) },
    { field: 'call', query: `query($id: ID!) { call(id: $id) { ${callTree} } }`, variables: (t) => ({ id: t.call.id }), answer: callTreeOf },
    { field: 'callBySid', query: `query($sid: String!) { callBySid(callSid: $sid) { ${callTree} } }`, variables: (t) => ({ sid: t.call.callSid }), answer: callTreeOf },
    { field: 'leads', query: `{ leads(first: 10) { totalCount nodes { ${leadTree} } } }`, answer: (t) => ({ totalCount: 1, nodes: [leadTreeOf(t)] }) },
    { field: 'lead', query: `query($id: ID!) { lead(id: $id) { ${leadTree} } }`, variables: (t) => ({ id: t.lead.id }), answer: leadTreeOf },
    { field: 'leadByPhone', query: `query($phone: String!) { leadByPhone(phone: $phone) { ${leadTree} } }`, variables: (t) => ({ phone: typedLocally(t.lead.phone) }), answer: leadTreeOf },
    {
      field: 'appointments',
      query: 'query($from: DateTime!, $to: DateTime!) { appointments(from: $from, to: $to) { id notes lead { id } call { id } } }',
      variables: () => seededWindow,
      answer: (t) => [{ id: t.appointment.id, notes: t.appointment.notes, lead: { id: t.lead.id }, call: { id: t.call.id } }],
    },
    {
      field: 'outboundCallJobs',
      query: '{ outboundCallJobs(first: 10) { totalCount nodes { id purpose lead { id } lastCall { id } } } }',
      answer: (t) => ({ totalCount: 1, nodes: [{ id: t.job.id, purpose: t.job.purpose, lead: { id: t.lead.id }, lastCall: { id: t.call.id } }] }),
    },
    {
      field: 'webhookDeliveries',
      query: 'query($id: ID!) { webhookDeliveries(callId: $id) { id url call { id } } }',
      variables: (t) => ({ id: t.call.id }),
      answer: (t) => [{ id: t.delivery.id, url: t.delivery.url, call: { id: t.call.id } }],
    },
    {
      field: 'callStats',
      query: 'query($from: DateTime!, $to: DateTime!) { callStats(from: $from, to: $to) { total averageDurationSec topCities { value count } topServices { value count } } }',
      variables: aroundNow,
      answer: (t) => ({ total: 1, averageDurationSec: 60, topCities: [{ value: t.call.extractedCity, count: 1 }], topServices: [{ value: t.call.extractedService, count: 1 }] }),
    },
  ];

  it.each(ownRows)("$field shows each business its own rows, nested ones included, and nothing of the other's", async ({ field, query, variables, answer }) => {
    for (const [mine, theirs] of [[a, b], [b, a]] as const) {
      const response = await ask(mine.keys.admin, query, variables?.(mine));
      expect(response.errors).toBeUndefined();
      expect(response.data?.[field]).toEqual(answer(mine));
      expectNoTraceOf(theirs, response);
    }
  });

  it("business.apiKeys lists exactly the business's own keys", async () => {
    const response = await ask(a.keys.admin, '{ viewer { business { apiKeys { id } } } }');
    const ids = response.data?.viewer.business.apiKeys.map((key: { id: string }) => key.id).sort();
    expect(ids).toEqual(a.apiKeys.map((key) => key.id).sort());
  });

  const othersIds: { field: string; query: string; variables: (t: SeededTenant) => Variables; absent: unknown }[] = [
    { field: 'call', query: 'query($id: ID!) { call(id: $id) { id } }', variables: (t) => ({ id: t.call.id }), absent: null },
    { field: 'callBySid', query: 'query($sid: String!) { callBySid(callSid: $sid) { id } }', variables: (t) => ({ sid: t.call.callSid }), absent: null },
    { field: 'lead', query: 'query($id: ID!) { lead(id: $id) { id } }', variables: (t) => ({ id: t.lead.id }), absent: null },
    { field: 'node', query: 'query($id: ID!) { node(id: $id) { id } }', variables: (t) => ({ id: t.job.id }), absent: null },
    {
      field: 'nodes',
      query: 'query($ids: [ID!]!) { nodes(ids: $ids) { id } }',
      variables: (t) => ({ ids: [t.businessId, t.lead.id, t.call.id, t.appointment.id, t.job.id, t.campaign.id, t.delivery.id, ...t.apiKeys.map((key) => key.id)] }),
      absent: [null, null, null, null, null, null, null, null, null, null],
    },
    { field: 'leadByPhone', query: 'query($phone: String!) { leadByPhone(phone: $phone) { id } }', variables: (t) => ({ phone: typedLocally(t.lead.phone) }), absent: null },
    { field: 'webhookDeliveries', query: 'query($id: ID!) { webhookDeliveries(callId: $id) { id } }', variables: (t) => ({ id: t.call.id }), absent: [] },
    {
      field: 'appointments',
      query: 'query($from: DateTime!, $to: DateTime!, $leadId: ID) { appointments(from: $from, to: $to, leadId: $leadId) { id } }',
      variables: (t) => ({ ...seededWindow, leadId: t.lead.id }),
      absent: [],
    },
    {
      field: 'calls',
      query: 'query($leadId: ID) { calls(filter: { leadId: $leadId }) { totalCount nodes { id } } }',
      variables: (t) => ({ leadId: t.lead.id }),
      absent: { totalCount: 0, nodes: [] },
    },
  ];

  it.each(othersIds)("$field with B's id answers as if it did not exist", async ({ field, query, variables, absent }) => {
    const asB = await ask(b.keys.viewer, query, variables(b));
    expect(asB.data?.[field], 'B itself finds it').not.toEqual(absent);

    const asA = await ask(a.keys.admin, query, variables(b));
    expect(asA).toEqual({ status: 200, data: { [field]: absent }, errors: undefined });
  });
});

describe("tenant isolation: writing with A's admin key", () => {
  let a: SeededTenant;
  let b: SeededTenant;
  beforeAll(async () => {
    a = await seedTenant(em(), 'Charlie');
    b = await seedTenant(em(), 'Delta');
  });

  const result = '{ __typename ... on Error { message } }';
  const withBsIds: { mutation: string; field: string; query: string; variables: (b: SeededTenant) => Variables; message: string }[] = [
    { mutation: 'updateLead', field: 'updateLead', query: `mutation($id: ID!) { updateLead(id: $id, input: { fullName: "Taken Over" }) ${result} }`, variables: (t) => ({ id: t.lead.id }), message: 'No lead with that id.' },
    {
      mutation: "bookAppointment for B's lead",
      field: 'bookAppointment',
      query: `mutation($input: BookAppointmentInput!) { bookAppointment(input: $input) ${result} }`,
      variables: (t) => ({ input: { leadId: t.lead.id, ...slot() } }),
      message: 'No lead with that id.',
    },
    {
      mutation: "bookAppointment during B's call",
      field: 'bookAppointment',
      query: `mutation($input: BookAppointmentInput!) { bookAppointment(input: $input) ${result} }`,
      variables: (t) => ({ input: { callId: t.call.id, ...slot() } }),
      message: 'No call with that id.',
    },
    { mutation: 'cancelAppointment', field: 'cancelAppointment', query: `mutation($id: ID!) { cancelAppointment(id: $id) ${result} }`, variables: (t) => ({ id: t.appointment.id }), message: 'No appointment with that id.' },
    {
      mutation: 'scheduleOutboundCall',
      field: 'scheduleOutboundCall',
      query: `mutation($input: ScheduleOutboundCallInput!) { scheduleOutboundCall(input: $input) ${result} }`,
      variables: (t) => ({ input: { leadId: t.lead.id, purpose: 'sell them something' } }),
      message: 'No lead with that id.',
    },
    { mutation: 'cancelOutboundCall', field: 'cancelOutboundCall', query: `mutation($id: ID!) { cancelOutboundCall(id: $id) ${result} }`, variables: (t) => ({ id: t.job.id }), message: 'No outbound call with that id.' },
    {
      mutation: 'createCampaign',
      field: 'createCampaign',
      query: `mutation($input: CreateCampaignInput!) { createCampaign(input: $input) ${result} }`,
      variables: (t) => ({ input: { name: 'poach', purpose: 'sell them something', leadIds: [t.lead.id] } }),
      message: 'No lead with that id.',
    },
    { mutation: 'cancelCampaign', field: 'cancelCampaign', query: `mutation($id: ID!) { cancelCampaign(id: $id) ${result} }`, variables: (t) => ({ id: t.campaign.id }), message: 'No campaign with that id.' },
    { mutation: 'revokeApiKey', field: 'revokeApiKey', query: `mutation($id: ID!) { revokeApiKey(id: $id) ${result} }`, variables: (t) => ({ id: keyIdOf(t, 'admin') }), message: 'No API key with that id.' },
    { mutation: 'whisperToAgent', field: 'whisperToAgent', query: `mutation($id: ID!) { whisperToAgent(callId: $id, text: "hi") ${result} }`, variables: (t) => ({ id: t.call.id }), message: 'No call with that id.' },
    { mutation: 'transferCall', field: 'transferCall', query: `mutation($id: ID!) { transferCall(callId: $id, to: "050-123-4567") ${result} }`, variables: (t) => ({ id: t.call.id }), message: 'No call with that id.' },
    { mutation: 'hangUpCall', field: 'hangUpCall', query: `mutation($id: ID!) { hangUpCall(callId: $id) ${result} }`, variables: (t) => ({ id: t.call.id }), message: 'No call with that id.' },
    { mutation: 'reprocessCall', field: 'reprocessCall', query: `mutation($id: ID!) { reprocessCall(callId: $id) ${result} }`, variables: (t) => ({ id: t.call.id }), message: 'No call with that id.' },
    { mutation: 'redeliverWebhook', field: 'redeliverWebhook', query: `mutation($id: ID!) { redeliverWebhook(deliveryId: $id) ${result} }`, variables: (t) => ({ id: t.delivery.id }), message: 'No webhook delivery with that id.' },
    { mutation: 'eraseLead', field: 'eraseLead', query: `mutation($id: ID!) { eraseLead(leadId: $id) ${result} }`, variables: (t) => ({ id: t.lead.id }), message: 'No lead with that id.' },
  ];

  it.each(withBsIds)("$mutation with B's id is a NotFoundError and writes nothing", async ({ field, query, variables, message }) => {
    const [aBefore, bBefore] = [await snapshotBusiness(em(), a.businessId), await snapshotBusiness(em(), b.businessId)];
    const response = await ask(a.keys.admin, query, variables(b));
    expect(response).toEqual({ status: 200, data: { [field]: { __typename: 'NotFoundError', message } }, errors: undefined });
    expect(await snapshotBusiness(em(), b.businessId)).toEqual(bBefore);
    expect(await snapshotBusiness(em(), a.businessId)).toEqual(aBefore);
  });

  it("leadByPhone finds the asking business's own lead when both businesses have the number", async () => {
    const phone = nextPhone();
    const [mine, theirs] = [await leadWithPhone(em(), a.businessId, phone), await leadWithPhone(em(), b.businessId, phone)];
    const query = 'query($phone: String!) { leadByPhone(phone: $phone) { id } }';
    expect((await ask(a.keys.viewer, query, { phone: typedLocally(phone) })).data).toEqual({ leadByPhone: { id: mine.id } });
    expect((await ask(b.keys.viewer, query, { phone })).data).toEqual({ leadByPhone: { id: theirs.id } });
  });

  it("leaves every one of B's keys working", async () => {
    for (const key of Object.values(b.keys)) {
      expect((await ask(key, '{ viewer { business { id } } }')).data).toEqual({ viewer: { business: { id: b.businessId } } });
    }
  });

  const actingOnA: { mutation: string; query: string; variables?: () => Promise<Variables>; check: (response: GraphQLResponse) => Promise<void> }[] = [
    {
      mutation: "createLead with a phone number B's lead has",
      query: 'mutation($phone: String!) { createLead(input: { phone: $phone }) { __typename ... on Lead { id phone } } }',
      variables: async () => ({ phone: b.lead.phone }),
      check: async (response) => {
        expect(response.data?.createLead).toMatchObject({ __typename: 'Lead', phone: b.lead.phone });
        const row = await sql(em().fork()).selectFrom('Lead').select('business').where('id', '=', response.data?.createLead.id).executeTakeFirstOrThrow();
        expect(row.business).toBe(a.businessId);
      },
    },
    {
      mutation: 'bookAppointment in a slot B has booked',
      query: 'mutation($input: BookAppointmentInput!) { bookAppointment(input: $input) { __typename } }',
      variables: async () => {
        const taken = await bookedAppointment(em(), b.businessId);
        return { input: { startsAt: iso(taken.startsAt), endsAt: iso(taken.endsAt) } };
      },
      check: async (response) => expect(response.data).toEqual({ bookAppointment: { __typename: 'Appointment' } }),
    },
    {
      mutation: 'updateBusinessSettings',
      query: 'mutation { updateBusinessSettings(input: { agentInstructions: "Be brief." }) { __typename ... on BusinessSettings { agentInstructions } } }',
      check: async (response) => {
        expect(response.data).toEqual({ updateBusinessSettings: { __typename: 'BusinessSettings', agentInstructions: 'Be brief.' } });
        expect((await ask(a.keys.viewer, '{ viewer { business { settings { agentInstructions } } } }')).data?.viewer.business.settings.agentInstructions).toBe('Be brief.');
      },
    },
    {
      mutation: 'rotateWebhookSecret',
      query: 'mutation { rotateWebhookSecret { webhookSecret settings { agentInstructions } } }',
      check: async (response) => {
        expect(response.data?.rotateWebhookSecret.webhookSecret).toMatch(/^whsec_/);
        const { webhookSecret } = await sql(em().fork()).selectFrom('BusinessSettings').select('webhookSecret').where('business', '=', a.businessId).executeTakeFirstOrThrow();
        expect(secretBoxOf(app.services.config).open(webhookSecret!, a.businessId)).toBe(response.data?.rotateWebhookSecret.webhookSecret);
      },
    },
    {
      mutation: 'createApiKey',
      query: 'mutation { createApiKey(input: { name: "reports", role: VIEWER }) { ... on CreateApiKeyPayload { key } } }',
      check: async (response) => {
        const created = await ask(response.data?.createApiKey.key, '{ viewer { role business { id } } }');
        expect(created.data).toEqual({ viewer: { role: 'VIEWER', business: { id: a.businessId } } });
      },
    },
  ];

  it.each(actingOnA)('$mutation acts on A only', async ({ query, variables, check }) => {
    const vars = await variables?.();
    const bBefore = await snapshotBusiness(em(), b.businessId);
    const response = await ask(a.keys.admin, query, vars);
    expect(response.errors).toBeUndefined();
    await check(response);
    expect(await snapshotBusiness(em(), b.businessId)).toEqual(bBefore);
  });
});

describe('the platform key', () => {
  let tenant: SeededTenant;
  beforeAll(async () => {
    tenant = await seedTenant(em(), 'Echo');
  });
  const platformKey = () => app.services.config.adminApiKey;

  it('creates a business whose first admin key works at once', async () => {
    const response = await ask(platformKey(), createBusiness, { input: { name: 'Foxtrot Plumbing', phoneNumbers: ['+97239990001'] } });
    expect(response.errors).toBeUndefined();
    const payload = response.data?.createBusiness;
    expect(payload).toMatchObject({ __typename: 'CreateBusinessPayload', business: { name: 'Foxtrot Plumbing' }, apiKey: { role: 'ADMIN', prefix: payload.key.slice(0, 10), revokedAt: null } });
    expect(JSON.stringify(payload.apiKey)).not.toContain(payload.key);

    const asNewAdmin = await ask(payload.key, '{ viewer { role business { id phoneNumbers } } }');
    expect(asNewAdmin.data).toEqual({ viewer: { role: 'ADMIN', business: { id: payload.business.id, phoneNumbers: ['+97239990001'] } } });
  });

  it('is a platform admin of no business', async () => {
    expect((await ask(platformKey(), '{ viewer { role business { id } apiKey { id } } }')).data).toEqual({ viewer: { role: 'PLATFORM_ADMIN', business: null, apiKey: null } });
  });

  const businessData = [...Object.entries(rootQueries).filter(([field]) => field !== 'health' && field !== 'viewer'), ['auditLog', { query: auditLog, variables: undefined }] as const];
  it.each(businessData)('cannot read %s', async (field, { query, variables }) => {
    const response = await ask(platformKey(), query, variables?.(tenant));
    expectError(response, 'FORBIDDEN', field);
    expect(response.data?.[field] ?? null).toBeNull();
    expectNoTraceOf(tenant, response);
  });

  it.each(mutations)('cannot run $mutation', async ({ mutation, query, prepare }) => {
    const variables = await prepare?.(tenant);
    const before = await snapshotBusiness(em(), tenant.businessId);
    expectError(await ask(platformKey(), query, variables), 'FORBIDDEN', mutation);
    expect(await snapshotBusiness(em(), tenant.businessId)).toEqual(before);
  });

  it.each(roles)('is the only key that may create a business (not a business %s key)', async (role) => {
    const count = async () => (await sql(em().fork()).selectFrom('Business').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n;
    const before = await count();
    const response = await ask(tenant.keys[role], createBusiness, { input: { name: 'Sneaky Ltd', phoneNumbers: [] } });
    expectError(response, 'FORBIDDEN', 'createBusiness');
    expect(await count()).toBe(before);
  });
});

describe('roles: reading', () => {
  let tenant: SeededTenant;
  beforeAll(async () => {
    tenant = await seedTenant(em(), 'Golf');
  });

  const cases = roles.flatMap((role) => Object.entries(rootQueries).map(([field, read]) => ({ role, field, ...read })));
  it.each(cases)('a $role key reads $field', async ({ role, field, query, variables, answer, least = 'viewer' }) => {
    const response = await ask(tenant.keys[role], query, variables?.(tenant));
    if (rank[role] >= rank[least]) {
      expect(response).toEqual({ status: 200, data: { [field]: answer(tenant) }, errors: undefined });
    } else {
      expectError(response, 'FORBIDDEN', field);
      expect(response.data).toBeNull();
    }
  });

  it.each(roles)('auditLog: admins only, and only their own business’s entries (%s)', async (role) => {
    const other = await seedTenant(em(), 'India');
    await ask(other.keys.admin, 'mutation { rotateWebhookSecret { __typename } }');
    await ask(tenant.keys.admin, 'mutation { rotateWebhookSecret { __typename } }');
    const response = await ask(tenant.keys[role], auditLog);
    if (role === 'admin') {
      expect(response.errors).toBeUndefined();
      expect(response.data?.auditLog.nodes[0]).toEqual({ operation: 'rotateWebhookSecret', apiKeyId: keyIdOf(tenant, 'admin') });
      expectNoTraceOf(other, response);
    } else {
      expectError(response, 'FORBIDDEN', 'auditLog');
      expect(response.data?.auditLog ?? null).toBeNull();
    }
  });

  it.each(roles)('business.apiKeys: admins only (%s)', async (role) => {
    const response = await ask(tenant.keys[role], '{ viewer { role business { apiKeys { id } } } }');
    if (role === 'admin') {
      expect(response.errors).toBeUndefined();
      expect(response.data?.viewer.business.apiKeys).toHaveLength(3);
    } else {
      expect(response.errors?.map((error) => ({ code: error.extensions?.code, path: error.path }))).toEqual([{ code: 'FORBIDDEN', path: ['viewer', 'business', 'apiKeys'] }]);
      expect(response.data).toEqual({ viewer: { role: role.toUpperCase(), business: null } });
    }
  });
});

describe('roles: writing', () => {
  let tenant: SeededTenant;
  beforeAll(async () => {
    tenant = await seedTenant(em(), 'Hotel');
  });

  const cases = roles.flatMap((role) =>
    mutations.map((mutation) => ({ role, ...mutation, outcome: rank[role] >= rank[mutation.least] ? `answers ${mutation.answers}` : 'is FORBIDDEN' })),
  );
  it.each(cases)('$role: $mutation $outcome', async ({ role, mutation, least, answers, query, prepare, writes }) => {
    const variables = await prepare?.(tenant);
    const before = await snapshotBusiness(em(), tenant.businessId);
    const response = await ask(tenant.keys[role], query, variables);
    if (rank[role] >= rank[least]) {
      expect(response).toEqual({ status: 200, data: { [mutation]: { __typename: answers } }, errors: undefined });
      if (writes === false) expect(await snapshotBusiness(em(), tenant.businessId)).toEqual(before);
      else expect(await snapshotBusiness(em(), tenant.businessId), 'the change is stored').not.toEqual(before);
    } else {
      expectError(response, 'FORBIDDEN', mutation);
      expect(response.data).toBeNull();
      expect(await snapshotBusiness(em(), tenant.businessId)).toEqual(before);
    }
  });
});

describe('authentication', () => {
  let tenant: SeededTenant;
  beforeAll(async () => {
    tenant = await seedTenant(em(), 'India');
  });

  it('answers health without a key', async () => {
    expect(await ask(null, '{ health { ready } }')).toEqual({ status: 200, data: { health: { ready: true } }, errors: undefined });
  });

  const guarded = [
    ...Object.entries(rootQueries).filter(([field]) => field !== 'health').map(([field, read]) => ({ field, query: read.query, prepare: read.variables })),
    { field: 'auditLog', query: auditLog, prepare: undefined },
    ...mutations.map(({ mutation, query, prepare }) => ({ field: mutation, query, prepare })),
    { field: 'createBusiness', query: createBusiness, prepare: () => ({ input: { name: 'Nobody Ltd', phoneNumbers: [] } }) },
  ];
  it.each(guarded)('$field without a key is UNAUTHENTICATED', async ({ field, query, prepare }) => {
    const response = await ask(null, query, await prepare?.(tenant));
    expectError(response, 'UNAUTHENTICATED', field);
    expect(response.data?.[field] ?? null).toBeNull();
    expectNoTraceOf(tenant, response);
  });

  it('refuses a mutation without a key before looking at its input', async () => {
    const response = await ask(null, 'mutation { createLead(input: { phone: "x" }) { __typename } revokeApiKey(id: "nope") { __typename } }');
    expect(response.errors?.map((error) => ({ code: error.extensions?.code, path: error.path }))).toEqual([
      { code: 'UNAUTHENTICATED', path: ['createLead'] },
      { code: 'UNAUTHENTICATED', path: ['revokeApiKey'] },
    ]);
    expect(response.data ?? null).toBeNull();
  });

  it.each([
    ['an unknown key', `cw_${'A'.repeat(32)}`],
    ['something that is no key at all', 'let-me-in'],
  ])('refuses %s with HTTP 401', async (_what, key) => {
    const response = await ask(key, '{ viewer { role } }');
    expect(response.status).toBe(401);
    expect(response.errors?.map((error) => error.extensions?.code)).toEqual(['UNAUTHENTICATED']);
    expect(response.data ?? null).toBeNull();
  });

  it('refuses a key from the moment it is revoked', async () => {
    const created = await ask(tenant.keys.admin, 'mutation { createApiKey(input: { name: "temp", role: SUPERVISOR }) { ... on CreateApiKeyPayload { key apiKey { id } } } }');
    const { key, apiKey } = created.data?.createApiKey;
    expect((await ask(key, '{ viewer { role } }')).data).toEqual({ viewer: { role: 'SUPERVISOR' } });

    const revoked = await ask(tenant.keys.admin, 'mutation($id: ID!) { revokeApiKey(id: $id) { ... on ApiKey { id revokedAt } } }', { id: apiKey.id });
    expect(revoked.data?.revokeApiKey).toEqual({ id: apiKey.id, revokedAt: expect.any(String) });

    const refused = await ask(key, '{ viewer { role } }');
    expect(refused.status).toBe(401);
    expect(refused.errors?.map((error) => error.extensions?.code)).toEqual(['UNAUTHENTICATED']);
  });
});

describe('API key secrets', () => {
  let tenant: SeededTenant;
  beforeAll(async () => {
    tenant = await seedTenant(em(), 'Juliet');
  });
  const allFields = 'id name role prefix createdAt lastUsedAt revokedAt';

  it('ApiKey has no field that could carry a secret', async () => {
    const response = await ask(null, '{ __type(name: "ApiKey") { fields { name } } }');
    expect(response.data?.__type.fields.map((field: { name: string }) => field.name).sort()).toEqual(allFields.split(' ').sort());
  });

  it('shows the secret once, in createApiKey, and never again', async () => {
    const created = await ask(tenant.keys.admin, `mutation { createApiKey(input: { name: "once", role: VIEWER }) { ... on CreateApiKeyPayload { key apiKey { ${allFields} } } } }`);
    const { key, apiKey } = created.data?.createApiKey;
    expect(key).toMatch(/^cw_/);
    expect(apiKey).toMatchObject({ name: 'once', role: 'VIEWER', prefix: key.slice(0, 10), revokedAt: null });

    await ask(key, '{ viewer { role } }');
    const afterwards = [
      await ask(tenant.keys.admin, `{ viewer { apiKey { ${allFields} } business { apiKeys { ${allFields} } } } }`),
      await ask(key, `{ viewer { apiKey { ${allFields} } } }`),
      await ask(tenant.keys.admin, `mutation($id: ID!) { revokeApiKey(id: $id) { ... on ApiKey { ${allFields} } } }`, { id: apiKey.id }),
    ];
    for (const response of afterwards) {
      expect(response.errors).toBeUndefined();
      const text = JSON.stringify(response);
      expect(text).toContain(apiKey.id);
      for (const secret of [key, hashApiKey(key), tenant.keys.admin, hashApiKey(tenant.keys.admin)]) expect(text).not.toContain(secret);
    }
  });
});
