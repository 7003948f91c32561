import type DataLoader from 'dataloader';
import { z } from 'zod';
import { findNodeTypes, type NodeReader, type NodeType } from '../entities/node.repository.ts';
import type { Loaders } from '../loaders/index.ts';
import { builder } from './builder.ts';
import type { GraphQLContext } from './context.ts';

/** How many ids one `nodes` call may name. */
export const maxNodeIds = 100;

/** The type of each row `node`/`nodes` returned: rows are plain data and do not say it themselves. */
const typeOfNode = new WeakMap<object, NodeType>();

/**
 * The Relay convention for global object identification. Ids are the UUIDs every type
 * already had (and its own queries and mutations still take): unique across all types, so
 * an id alone names one object and a client may cache by it.
 */
export const NodeRef = builder.interfaceRef<{ id: string }>('Node').implement({
  description: 'An object with an id unique across every type: `node(id:)` fetches it again, and a client may cache it by that id alone.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'A UUID, unique across every type; the same id the type’s own queries and mutations take.' }),
  }),
  resolveType: (row) => {
    const type = typeOfNode.get(row);
    if (type === undefined) throw new Error('Node.resolveType: a row that node/nodes did not load');
    return type;
  },
});

const loaderOf: Record<NodeType, (loaders: Loaders) => DataLoader<string, { id: string } | null>> = {
  Business: (loaders) => loaders.businessById,
  ApiKey: (loaders) => loaders.apiKeyById,
  Lead: (loaders) => loaders.leadById,
  Call: (loaders) => loaders.callById,
  Appointment: (loaders) => loaders.appointmentById,
  OutboundCallJob: (loaders) => loaders.outboundJobById,
  Campaign: (loaders) => loaders.campaignById,
  WebhookDelivery: (loaders) => loaders.webhookDeliveryById,
  AuditLogEntry: (loaders) => loaders.auditLogEntryById,
};

/** What the request's key may fetch by id: its business's rows, as its role already lets it read them. */
function readerOf(ctx: GraphQLContext): NodeReader {
  if (ctx.auth?.kind !== 'business') throw new Error('readerOf: the field is not scoped to a business key');
  const admin = ctx.auth.role === 'admin';
  return { businessId: ctx.auth.businessId, apiKeys: admin ? 'all' : { own: ctx.auth.apiKeyId }, auditLog: admin };
}

const uuid = z.uuid();

/**
 * The objects `ids` name, in order, null where the key may not see one (another business's,
 * unknown, not a UUID). One statement finds every id's type; then each type's loader fetches
 * its rows in one more: at most 1 + 9 statements however many ids.
 */
async function loadNodes(ctx: GraphQLContext, ids: readonly string[]): Promise<({ id: string } | null)[]> {
  const types = await findNodeTypes(ctx.em, readerOf(ctx), [...new Set(ids.filter((id) => uuid.safeParse(id).success))]);
  return Promise.all(
    ids.map(async (id) => {
      const type = types.get(id);
      if (type === undefined) return null;
      const row = await loaderOf[type](ctx.loaders).load(id);
      if (row) typeOfNode.set(row, type);
      return row;
    }),
  );
}

builder.queryFields((t) => ({
  node: t.field({
    type: NodeRef,
    nullable: true,
    authScopes: { reader: true },
    description:
      'Any object of this business by its id (Relay’s global object identification). Null when there is none the key may read: another business’s id, an unknown id, and a string that is not an id alike. API keys other than the caller’s own and audit log entries are for admin keys only.',
    args: { id: t.arg.id({ required: true, description: 'The `id` of a Node.' }) },
    resolve: async (_root, args, ctx) => (await loadNodes(ctx, [String(args.id)]))[0] ?? null,
  }),
  nodes: t.field({
    type: [NodeRef],
    nullable: { list: false, items: true },
    authScopes: { reader: true },
    description: `Several objects by id, in the order asked, with null for each one \`node\` would answer null for. At most ${maxNodeIds} ids.`,
    args: {
      ids: t.arg.idList({
        required: true,
        description: `The \`id\`s of Nodes, any types mixed (at most ${maxNodeIds}).`,
        validate: z.array(z.unknown()).max(maxNodeIds, `at most ${maxNodeIds} ids`),
      }),
    },
    // Validation refuses more ids than the maximum; their cost must not refuse it first.
    complexity: (args) => ({ field: 1, multiplier: Math.min(args.ids.length, maxNodeIds) }),
    resolve: (_root, args, ctx) => loadNodes(ctx, args.ids.map(String)),
  }),
}));
