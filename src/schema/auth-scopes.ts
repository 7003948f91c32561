import type { GraphQLSchema } from 'graphql';
import type { Auth } from './context.ts';

/**
 * What a request may do. `reader`/`supervisor`/`admin` are the roles of a business's API key
 * (each includes the ones before it); `platform` is the operator's ADMIN_API_KEY, which
 * belongs to no business; `tenant(businessId)` holds when the key belongs to that business.
 */
export interface AuthScopes {
  reader: boolean;
  supervisor: boolean;
  admin: boolean;
  platform: boolean;
  tenant: string;
}

/** The scopes `auth` holds: scope auth's initializer (builder.ts), and what `viewer.operations` reads. */
export function scopesOf(auth: Auth | null) {
  const role = auth?.kind === 'business' ? auth.role : null;
  return {
    reader: role !== null,
    supervisor: role === 'supervisor' || role === 'admin',
    admin: role === 'admin',
    platform: auth?.kind === 'platform',
    tenant: (businessId: string) => auth?.kind === 'business' && auth.businessId === businessId,
  };
}

/** The root fields, per operation type, that `auth` may call. */
export interface AllowedOperations {
  queries: string[];
  mutations: string[];
  subscriptions: string[];
}

/**
 * The root fields `auth` may call, read from the `authScopes` each field declares in the
 * built schema (Pothos keeps a field's options in `extensions.pothosOptions`) and judged as
 * scope auth judges them — so the list cannot drift from what the API enforces. A root field
 * without scopes is open to every key. A shape scope auth allows but this cannot judge
 * without a request (a function of the field's arguments) throws: decide its answer here
 * before adding one.
 */
export function allowedOperations(schema: GraphQLSchema, auth: Auth | null): AllowedOperations {
  const scopes = scopesOf(auth);
  const allowed = (type: ReturnType<GraphQLSchema['getQueryType']>) =>
    Object.values(type?.getFields() ?? {})
      .filter((field) => {
        const declared = (field.extensions.pothosOptions as { authScopes?: unknown } | undefined)?.authScopes;
        return declared === undefined || grants(declared, scopes, `${type?.name}.${field.name}`);
      })
      .map((field) => field.name)
      .sort();
  return { queries: allowed(schema.getQueryType()), mutations: allowed(schema.getMutationType()), subscriptions: allowed(schema.getSubscriptionType()) };
}

/** Scope auth's rule for a scope map: any entry passes (`$all`: every entry of its map). */
function grants(map: unknown, scopes: ReturnType<typeof scopesOf>, field: string): boolean {
  if (typeof map !== 'object' || map === null) throw new Error(`viewer.operations cannot judge the authScopes of ${field}: not a scope map`);
  return Object.entries(map).some(([scope, parameter]) => {
    if (scope === '$any') return grants(parameter, scopes, field);
    if (scope === '$all') return typeof parameter === 'object' && parameter !== null && Object.entries(parameter).every(([inner, value]) => grants({ [inner]: value }, scopes, field));
    if (!(scope in scopes)) throw new Error(`viewer.operations cannot judge the authScopes of ${field}: unknown scope ${scope}`);
    const value = scopes[scope as keyof typeof scopes];
    return typeof value === 'function' ? value(String(parameter)) : value;
  });
}
