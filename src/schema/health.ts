import { checkReadiness, type Readiness } from '../core/health.ts';
import { builder } from './builder.ts';

const Health = builder.objectRef<Readiness>('Health').implement({
  description: 'Whether this Callwatch instance can serve requests.',
  fields: (t) => ({
    ready: t.exposeBoolean('ready', { description: 'True when every dependency answered.' }),
    database: t.exposeBoolean('database', { description: 'PostgreSQL answered a query.' }),
    queue: t.exposeBoolean('queue', { description: 'The job queue is started and reachable.' }),
    version: t.exposeString('version', { description: 'Callwatch’s version (package.json).' }),
  }),
});

builder.queryField('health', (t) =>
  t.field({
    type: Health,
    description: 'Liveness and readiness of this instance and its dependencies.',
    resolve: (_root, _args, ctx) => checkReadiness(ctx.services),
  }),
);
