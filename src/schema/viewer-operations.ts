import { allowedOperations, type AllowedOperations } from './auth-scopes.ts';
import { builder } from './builder.ts';
import { Viewer } from './business.ts';

const ViewerOperations = builder.objectRef<AllowedOperations>('ViewerOperations').implement({
  description: 'The root fields this API key’s role may call, derived from the scopes the schema enforces. A field listed here may still answer NOT_FOUND for another business’s ids.',
  fields: (t) => ({
    queries: t.exposeStringList('queries', { description: 'Query fields, sorted by name.' }),
    mutations: t.exposeStringList('mutations', { description: 'Mutation fields, sorted by name.' }),
    subscriptions: t.exposeStringList('subscriptions', { description: 'Subscription fields, sorted by name.' }),
  }),
});

builder.objectField(Viewer, 'operations', (t) =>
  t.field({
    type: ViewerOperations,
    description: 'What this key’s role may call, so a client can hide what it would be refused (FORBIDDEN).',
    resolve: (auth, _args, _ctx, info) => allowedOperations(info.schema, auth),
  }),
);
