import { randomUUID } from 'node:crypto';
import {
  getNamedType,
  isCompositeType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLObjectType,
} from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from 'graphql-ws';
import { schema } from '../../src/schema/index.ts';
import { eventually } from '../support/calls.ts';
import { collect, createTenant, graphql, graphqlWsClient, startApiApp, type Tenant } from '../support/graphql.ts';

/**
 * `viewer.operations` tells a key what its role may call. Checked against the API itself:
 * every root field is called with each key, and the fields it is not refused (FORBIDDEN)
 * are exactly the ones listed.
 */

type Who = 'viewer' | 'supervisor' | 'admin' | 'platform';
const everyone: Who[] = ['viewer', 'supervisor', 'admin', 'platform'];

let app: Awaited<ReturnType<typeof startApiApp>>;
let tenant: Tenant;
const clients: Client[] = [];
const keyOf = (who: Who) => (who === 'platform' ? app.services.config.adminApiKey : tenant.keys[who]);

beforeAll(async () => {
  app = await startApiApp();
  tenant = await createTenant(app.services.orm.em);
});
afterAll(async () => {
  await Promise.all(clients.map((client) => client.dispose()));
  await app?.stop();
});

async function operationsOf(who: Who) {
  const response = await graphql(app.url, keyOf(who), '{ viewer { operations { queries mutations subscriptions } } }');
  expect(response.errors).toBeUndefined();
  return response.data?.viewer.operations as { queries: string[]; mutations: string[]; subscriptions: string[] };
}

let instants = 0;
/**
 * A value of `type` for the argument or input field `name` that passes validation — else a
 * key without the role would be told its input is invalid before it is refused.
 */
function sample(type: GraphQLInputType, name: string): unknown {
  if (isNonNullType(type)) return sample(type.ofType, name);
  if (isListType(type)) return [];
  if (isEnumType(type)) return type.getValues()[0]!.name;
  if (isInputObjectType(type)) {
    return Object.fromEntries(Object.values(type.getFields()).flatMap((field) => (isNonNullType(field.type) ? [[field.name, sample(field.type, field.name)]] : [])));
  }
  // Each instant later than the one before: a range's `to` comes after its `from`.
  if (type.name === 'DateTime') return new Date(Date.now() + 86_400_000 + ++instants * 60_000).toISOString();
  if (type.name === 'String' && /phone|^to$/i.test(name)) return '+972501234567';
  const samples: Record<string, unknown> = { ID: randomUUID(), String: 'x', Int: 1, Float: 1, Boolean: false, JSON: {} };
  if (!(type.name in samples)) throw new Error(`no sample value for scalar ${type.name}`);
  return samples[type.name];
}

/** The field alone, its required arguments as variables, `__typename` as its selection. */
function operationFor(operation: 'query' | 'mutation' | 'subscription', field: GraphQLField<unknown, unknown>) {
  const required = field.args.filter((arg: GraphQLArgument) => isNonNullType(arg.type));
  const declared = required.map((arg) => `$${arg.name}: ${String(arg.type)}`).join(', ');
  const passed = required.map((arg) => `${arg.name}: $${arg.name}`).join(', ');
  const selection = isCompositeType(getNamedType(field.type)) ? ' { __typename }' : '';
  return {
    query: `${operation}${declared ? `(${declared})` : ''} { ${field.name}${passed ? `(${passed})` : ''}${selection} }`,
    variables: Object.fromEntries(required.map((arg) => [arg.name, sample(arg.type, arg.name)])),
  };
}

const fieldsOf = (type: GraphQLObjectType | null | undefined) => Object.values(type?.getFields() ?? {});
const forbidden = (errors: { extensions?: Record<string, unknown> }[] | undefined) => errors?.some((error) => error.extensions?.code === 'FORBIDDEN') ?? false;

describe('viewer.operations', () => {
  it('names what each role may call', async () => {
    const viewer = await operationsOf('viewer');
    expect(viewer.mutations).toEqual([]);
    expect(viewer.subscriptions).not.toContain('callAudio');
    const supervisor = await operationsOf('supervisor');
    expect(supervisor.mutations).toEqual(expect.arrayContaining(['createLead', 'whisperToAgent', 'hangUpCall']));
    expect(supervisor.mutations).not.toContain('createApiKey');
    expect(supervisor.subscriptions).toContain('callAudio');
    const admin = await operationsOf('admin');
    expect(admin.mutations).toEqual(expect.arrayContaining(['createApiKey', 'rotateWebhookSecret']));
    expect(admin.mutations).not.toContain('createBusiness');
    expect(await operationsOf('platform')).toEqual({ queries: ['health', 'viewer'], mutations: ['createBusiness'], subscriptions: [] });
  });

  it.each(everyone)('lists exactly the queries and mutations a %s key is not refused', async (who) => {
    const listed = await operationsOf(who);
    for (const [operation, type, names] of [
      ['query', schema.getQueryType(), listed.queries],
      ['mutation', schema.getMutationType(), listed.mutations],
    ] as const) {
      const allowed: string[] = [];
      for (const field of fieldsOf(type)) {
        const { query, variables } = operationFor(operation, field);
        const response = await graphql(app.url, keyOf(who), query, variables);
        if (!forbidden(response.errors)) allowed.push(field.name);
      }
      expect(allowed.sort(), `${operation} fields a ${who} key may call`).toEqual(names);
    }
  });

  it.each(everyone)('lists exactly the subscriptions a %s key is not refused', async (who) => {
    const listed = await operationsOf(who);
    const client = graphqlWsClient(app.url, keyOf(who));
    clients.push(client);
    const allowed: string[] = [];
    for (const field of fieldsOf(schema.getSubscriptionType())) {
      const { query, variables } = operationFor('subscription', field);
      const stream = collect(client, query, variables);
      // The first answer: a refusal at once, else an event — nudged by publishing on the
      // business's topics until the subscription hears one.
      const first = await eventually(
        () => {
          const now = new Date().toISOString();
          app.services.bus.publish('business:calls', tenant.businessId, { type: 'call.status', callId: randomUUID(), callSid: 'CA0', status: 'ringing', at: now });
          app.services.bus.publish('business:outbound', tenant.businessId, {
            type: 'outbound.updated', jobId: randomUUID(), campaignId: null, status: 'queued', attempts: 0, scheduledAt: now, lastOutcome: null, lastError: null, callSid: null, at: now,
          });
          return stream.results[0] ?? (stream.errors[0] ? { errors: stream.errors[0] as { extensions?: Record<string, unknown> }[] } : undefined);
        },
        (answer) => answer !== undefined,
        `the first answer to ${field.name} for a ${who} key`,
      );
      stream.stop();
      if (!forbidden(first?.errors)) allowed.push(field.name);
    }
    expect(allowed.sort()).toEqual(listed.subscriptions);
  });
});
