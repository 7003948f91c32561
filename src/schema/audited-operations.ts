import {
  defaultFieldResolver,
  GraphQLError,
  GraphQLID,
  isInputObjectType,
  isListType,
  isNonNullType,
  type GraphQLField,
  type GraphQLFieldResolver,
  type GraphQLInputType,
  type GraphQLSchema,
} from 'graphql';
import { errorTypeMap } from '@pothos/plugin-errors';
import { AppError, describeError } from '../core/errors.ts';
import type { AuditEntryInput } from '../entities/audit-log.repository.ts';
import { insertAuditEntry } from '../entities/audit-log.repository.ts';
import type { GraphQLContext } from './context.ts';
import { ConflictError, FieldValidationError, NotFoundError } from './errors.ts';

/**
 * The audit log's writer. Every Mutation field and the listen-in subscription (`callAudio`)
 * is wrapped once, on the built schema, so a mutation added later is audited without anyone
 * remembering to: one insert after the resolver settles, whatever its outcome.
 *
 * What is kept: the key (id, public prefix, role), the business, the field's name, the ids
 * among its arguments (arguments of type ID, at any depth of an input), the id of a row it
 * created, the outcome and the time. Never an argument's other values (a whisper's text, a
 * phone number, a name), never a key.
 */

/** Set on every resolver this module wraps: lets a test prove no Mutation field escapes. */
export const auditedResolver = Symbol('auditedResolver');

/** Subscription fields audited when they start: the supervisor's listen-in. */
const auditedSubscriptions = ['callAudio'];

/** Ids kept per list argument (a campaign's `leadIds` may name thousands). */
const maxIdsPerList = 100;

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type Resolver = GraphQLFieldResolver<unknown, GraphQLContext>;
type Targets = Record<string, string | string[]>;

/** Wraps every Mutation field's resolver and the audited subscriptions' `subscribe`; returns the schema. */
export function auditOperations(schema: GraphQLSchema): GraphQLSchema {
  for (const field of Object.values(schema.getMutationType()?.getFields() ?? {})) {
    field.resolve = audit(field, field.resolve ?? defaultFieldResolver);
  }
  const subscriptions = schema.getSubscriptionType()?.getFields() ?? {};
  for (const name of auditedSubscriptions) {
    const field = subscriptions[name];
    if (!field?.subscribe) throw new Error(`audited subscription ${name} is not in the schema`);
    field.subscribe = audit(field, field.subscribe);
  }
  return schema;
}

/** Whether `resolver` writes an audit entry (the test of "every mutation is audited"). */
export function isAudited(resolver: unknown): boolean {
  return typeof resolver === 'function' && auditedResolver in resolver;
}

function audit(field: GraphQLField<unknown, GraphQLContext>, resolve: Resolver): Resolver {
  const wrapped: Resolver = async (source, args, ctx, info) => {
    let outcome = 'ok';
    let result: unknown;
    try {
      result = await resolve(source, args, ctx, info);
      // Expected failures come back as the result union's error: the errors plugin's proxy
      // of it, which `instanceof` does not see through; the plugin's own map does.
      const expected = typeof result === 'object' && result !== null ? errorTypeMap.get(result) : undefined;
      if (expected) outcome = expectedErrorCodes.get(expected) ?? expected.name;
      return result;
    } catch (error) {
      outcome = errorCode(error);
      throw error;
    } finally {
      await record(ctx, { operation: field.name, targets: { ...argumentIds(field, args), ...resultIds(result) }, outcome });
    }
  };
  return Object.assign(wrapped, { [auditedResolver]: true });
}

/** Writes the entry. A failed write is logged, never thrown: the mutation has happened. */
async function record(ctx: GraphQLContext, what: Pick<AuditEntryInput, 'operation' | 'targets' | 'outcome'>): Promise<void> {
  const { auth } = ctx;
  const entry: AuditEntryInput = {
    ...what,
    business: auth?.kind === 'business' ? auth.businessId : platformBusiness(what.targets),
    apiKeyId: auth?.kind === 'business' ? auth.apiKeyId : null,
    actor: auth?.kind === 'business' ? auth.prefix : (auth?.kind ?? 'anonymous'),
    role: auth?.kind === 'business' ? auth.role : (auth?.kind ?? 'anonymous'),
  };
  try {
    await insertAuditEntry(ctx.services.orm.em.fork(), entry);
  } catch (error) {
    ctx.services.metrics.increment('audit_log_write_failed_total');
    ctx.logger.error({ err: describeError(error), operation: what.operation, outcome: what.outcome }, 'cannot write the audit log entry');
  }
}

/** The platform key belongs to no business: its entry goes to the business it created or named. */
function platformBusiness(targets: Targets): string | null {
  const id = targets['result.business'] ?? targets.businessId ?? targets['input.businessId'];
  return typeof id === 'string' && uuidPattern.test(id) ? id : null;
}

/** The codes of the expected failures mutations return in their result unions. */
const expectedErrorCodes = new Map<unknown, string>([
  [FieldValidationError, 'VALIDATION_FAILED'],
  [NotFoundError, 'NOT_FOUND'],
  [ConflictError, 'CONFLICT'],
]);

/** The code a thrown error reaches the client with; anything unexpected is masked as internal. */
function errorCode(error: unknown): string {
  if (error instanceof GraphQLError && typeof error.extensions.code === 'string') return error.extensions.code;
  if (error instanceof AppError) return error.code;
  return 'INTERNAL_SERVER_ERROR';
}

/** The ID-typed argument values, by path (`callId`, `input.leadIds`); anything not shaped like an id is not kept. */
function argumentIds(field: GraphQLField<unknown, GraphQLContext>, args: Record<string, unknown>): Targets {
  const targets: Targets = {};
  for (const arg of field.args) collectIds(arg.type, args[arg.name], arg.name, targets);
  return targets;
}

function collectIds(type: GraphQLInputType, value: unknown, path: string, targets: Targets): void {
  if (value === null || value === undefined) return;
  if (isNonNullType(type)) return collectIds(type.ofType, value, path, targets);
  if (isListType(type)) {
    if (!Array.isArray(value)) return collectIds(type.ofType, value, path, targets);
    const item = isNonNullType(type.ofType) ? type.ofType.ofType : type.ofType;
    if (item === GraphQLID) targets[path] = value.slice(0, maxIdsPerList).map(idOrMark);
    else value.forEach((element, index) => collectIds(type.ofType, element, `${path}.${index}`, targets));
    return;
  }
  if (isInputObjectType(type) && typeof value === 'object') {
    for (const [name, inputField] of Object.entries(type.getFields())) {
      collectIds(inputField.type, (value as Record<string, unknown>)[name], `${path}.${name}`, targets);
    }
    return;
  }
  if (type === GraphQLID) targets[path] = idOrMark(value);
}

/** An id as given, or a mark: an ID argument may carry anything, and only ids are kept. */
function idOrMark(value: unknown): string {
  return typeof value === 'string' && uuidPattern.test(value) ? value : '(not an id)';
}

/** The ids of what a mutation returned: its own `id`, and each returned row's (`result.apiKey`). */
function resultIds(result: unknown): Targets {
  if (typeof result !== 'object' || result === null || errorTypeMap.has(result)) return {};
  const targets: Targets = {};
  const own = (result as { id?: unknown }).id;
  if (typeof own === 'string' && uuidPattern.test(own)) targets.result = own;
  for (const [key, value] of Object.entries(result)) {
    const id = typeof value === 'object' && value !== null ? (value as { id?: unknown }).id : undefined;
    if (typeof id === 'string' && uuidPattern.test(id)) targets[`result.${key}`] = id;
  }
  return targets;
}
