import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../../src/entities/sql.ts';
import { createCall, createLead } from '../support/factories.ts';
import { graphql, startApiApp } from '../support/graphql.ts';
import { seedTenant, type SeededTenant } from '../support/tenant-data.ts';

/**
 * Global object identification (Relay): `node(id:)` and `nodes(ids:)` fetch any object of the
 * key's business by the id it already has, as the key's role may read it; anything else is
 * null, whatever the reason.
 */

let app: Awaited<ReturnType<typeof startApiApp>>;
const em = () => app.services.orm.em;
const ask = (key: string, query: string, variables: Record<string, unknown> = {}) => graphql(app.url, key, query, variables);

/** A tenant with one of everything, and one audit log entry. */
type Tenant = SeededTenant & { auditEntryId: string };

async function seed(label: string): Promise<Tenant> {
  const tenant = await seedTenant(em(), label);
  await ask(tenant.keys.admin, 'mutation { rotateWebhookSecret { __typename } }');
  const log = await ask(tenant.keys.admin, '{ auditLog(first: 1) { nodes { id } } }');
  return { ...tenant, auditEntryId: log.data?.auditLog.nodes[0].id };
}

let a: Tenant;
let b: Tenant;
beforeAll(async () => {
  app = await startApiApp();
  a = await seed('Kilo');
  b = await seed('Lima');
});
afterAll(async () => {
  await app?.stop();
});

const selection = `__typename id
  ... on Business { name }
  ... on ApiKey { role }
  ... on Lead { phone }
  ... on Call { callSid }
  ... on Appointment { notes }
  ... on OutboundCallJob { purpose }
  ... on Campaign { name }
  ... on WebhookDelivery { webhookId }
  ... on AuditLogEntry { operation }`;
const nodeQuery = `query($id: ID!) { node(id: $id) { ${selection} } }`;
const nodesQuery = `query($ids: [ID!]!) { nodes(ids: $ids) { ${selection} } }`;

/** Every type implementing Node: the tenant's row of it and the fields `selection` answers with. */
const everyType: { type: string; answer: (t: Tenant) => Record<string, unknown> }[] = [
  { type: 'Business', answer: (t) => ({ id: t.businessId, name: t.name }) },
  { type: 'ApiKey', answer: (t) => ({ id: t.apiKeys.find((key) => key.role === 'admin')!.id, role: 'ADMIN' }) },
  { type: 'Lead', answer: (t) => ({ id: t.lead.id, phone: t.lead.phone }) },
  { type: 'Call', answer: (t) => ({ id: t.call.id, callSid: t.call.callSid }) },
  { type: 'Appointment', answer: (t) => ({ id: t.appointment.id, notes: t.appointment.notes }) },
  { type: 'OutboundCallJob', answer: (t) => ({ id: t.job.id, purpose: t.job.purpose }) },
  { type: 'Campaign', answer: (t) => ({ id: t.campaign.id, name: t.campaign.name }) },
  { type: 'WebhookDelivery', answer: (t) => ({ id: t.delivery.id, webhookId: t.delivery.webhookId }) },
  { type: 'AuditLogEntry', answer: (t) => ({ id: t.auditEntryId, operation: 'rotateWebhookSecret' }) },
];
const idOf = (type: string, t: Tenant) => everyType.find((entry) => entry.type === type)!.answer(t).id as string;

describe('node', () => {
  it('lists exactly the types that have an id of their own as implementing Node', async () => {
    const response = await ask(a.keys.viewer, '{ __type(name: "Node") { kind possibleTypes { name } } }');
    expect(response.data?.__type.kind).toBe('INTERFACE');
    expect(response.data?.__type.possibleTypes.map((type: { name: string }) => type.name).sort()).toEqual(everyType.map((entry) => entry.type).sort());
  });

  it.each(everyType)('fetches a $type by its id, with its own fields', async ({ type, answer }) => {
    for (const tenant of [a, b]) {
      const response = await ask(tenant.keys.admin, nodeQuery, { id: answer(tenant).id });
      expect(response).toEqual({ status: 200, data: { node: { __typename: type, ...answer(tenant) } }, errors: undefined });
    }
  });

  it.each(everyType)("answers null for another business's $type, as for an id that does not exist", async ({ type }) => {
    const response = await ask(a.keys.admin, nodeQuery, { id: idOf(type, b) });
    expect(response).toEqual({ status: 200, data: { node: null }, errors: undefined });
    expect(JSON.stringify(response)).not.toContain(b.label);
    expect(await ask(a.keys.admin, nodeQuery, { id: randomUUID() })).toEqual(response);
  });

  it.each(['nope', '', '42', "' or 1=1 --", `${randomUUID()}x`])('answers null, not an error, for %j, which is not an id', async (id) => {
    expect(await ask(a.keys.admin, nodeQuery, { id })).toEqual({ status: 200, data: { node: null }, errors: undefined });
  });

  it('gives the same object as the type’s own query: the id is the one clients already hold', async () => {
    const response = await ask(a.keys.viewer, 'query($id: ID!) { call(id: $id) { id callSid } node(id: $id) { id ... on Call { callSid } } }', { id: a.call.id });
    expect(response.data?.node).toEqual(response.data?.call);
  });
});

describe('node: what each role may read', () => {
  const cases = (['viewer', 'supervisor', 'admin'] as const).map((role) => ({ role, admin: role === 'admin' }));

  it.each(cases)('a $role key reads every row its business owns, its own API key and, as an admin, the other keys and the audit log', async ({ role, admin }) => {
    const ownKey = a.apiKeys.find((key) => key.role === role)!;
    const otherKey = a.apiKeys.find((key) => key.role !== role)!;
    const ids = [a.call.id, ownKey.id, otherKey.id, a.auditEntryId];
    const response = await ask(a.keys[role], 'query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }', { ids });
    expect(response.errors).toBeUndefined();
    expect(response.data?.nodes).toEqual([
      { __typename: 'Call', id: a.call.id },
      { __typename: 'ApiKey', id: ownKey.id },
      admin ? { __typename: 'ApiKey', id: otherKey.id } : null,
      admin ? { __typename: 'AuditLogEntry', id: a.auditEntryId } : null,
    ]);
  });

  it('keeps a viewer from the whisper text of a call’s timeline, as `call(id)` does', async () => {
    const whisper = 'offer her 10% off';
    const action = { type: 'supervisor.action' as const, callId: a.call.id, action: 'whisper' as const, detail: whisper, apiKeyId: a.apiKeys[0]!.id, acted: true, error: null, at: new Date().toISOString() };
    await sql(em().fork()).updateTable('Call').set({ timeline: [action] }).where('id', '=', a.call.id).execute();
    const query = 'query($id: ID!) { node(id: $id) { ... on Call { timeline } } }';
    const asViewer = await ask(a.keys.viewer, query, { id: a.call.id });
    expect(asViewer.data?.node.timeline).toEqual([{ ...action, detail: null, apiKeyId: null }]);
    expect((await ask(a.keys.supervisor, query, { id: a.call.id })).data?.node.timeline).toEqual([action]);
  });
});

describe('nodes', () => {
  it('answers in the order asked, types mixed, with null for what the key may not see', async () => {
    const ids = [a.call.id, randomUUID(), b.lead.id, a.lead.id, 'nope', a.call.id, a.campaign.id];
    const response = await ask(a.keys.viewer, 'query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }', { ids });
    expect(response).toEqual({
      status: 200,
      data: {
        nodes: [
          { __typename: 'Call', id: a.call.id },
          null,
          null,
          { __typename: 'Lead', id: a.lead.id },
          null,
          { __typename: 'Call', id: a.call.id },
          { __typename: 'Campaign', id: a.campaign.id },
        ],
      },
      errors: undefined,
    });
  });

  it('fetches every type in one request', async () => {
    const response = await ask(a.keys.admin, nodesQuery, { ids: everyType.map(({ answer }) => answer(a).id) });
    expect(response.errors).toBeUndefined();
    expect(response.data?.nodes).toEqual(everyType.map(({ type, answer }) => ({ __typename: type, ...answer(a) })));
  });

  it('takes up to 100 ids; 101 is a VALIDATION_FAILED error on ids', async () => {
    const hundred = Array.from({ length: 100 }, () => randomUUID());
    const ok = await ask(a.keys.viewer, 'query($ids: [ID!]!) { nodes(ids: $ids) { id } }', { ids: hundred });
    expect(ok).toEqual({ status: 200, data: { nodes: hundred.map(() => null) }, errors: undefined });

    const tooMany = await ask(a.keys.viewer, 'query($ids: [ID!]!) { nodes(ids: $ids) { id } }', { ids: [...hundred, a.call.id] });
    expect(tooMany.data ?? null).toBeNull();
    expect(tooMany.errors?.map((error) => error.extensions)).toEqual([
      expect.objectContaining({ code: 'VALIDATION_FAILED', fieldErrors: [{ path: ['ids'], message: 'at most 100 ids' }] }),
    ]);
  });
});

describe('nodes: SQL statements', () => {
  const statementsFor = async (ids: string[]) => {
    app.statements.length = 0;
    const response = await ask(a.keys.admin, 'query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }', { ids });
    expect(response.errors).toBeUndefined();
    expect(response.data?.nodes.filter((node: unknown) => node === null)).toEqual([]);
    return [...app.statements];
  };

  it('does not grow with the number of ids: authentication, one lookup, then one per type asked for', async () => {
    const leads: string[] = [];
    const calls: string[] = [];
    for (let index = 0; index < 40; index += 1) {
      const lead = await createLead(em(), { id: a.businessId });
      leads.push(lead.id);
      calls.push((await createCall(em(), a.businessId, { lead: lead.id })).id);
    }
    const two = await statementsFor([leads[0]!, calls[0]!]);
    const eighty = await statementsFor([...leads, ...calls]);
    expect(eighty.length).toBe(2 + 2);
    expect(eighty.length).toBe(two.length);
    // Every type at once: still one statement per type, not per id.
    expect((await statementsFor(everyType.map(({ type }) => idOf(type, a)))).length).toBe(2 + everyType.length);
  });

  it('sends nothing but authentication for ids that are not ids', async () => {
    app.statements.length = 0;
    const response = await ask(a.keys.admin, 'query($ids: [ID!]!) { nodes(ids: $ids) { id } }', { ids: ['nope', '1'] });
    expect(response.data).toEqual({ nodes: [null, null] });
    expect(app.statements).toHaveLength(1);
  });
});
