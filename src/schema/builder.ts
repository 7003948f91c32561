import SchemaBuilder from '@pothos/core';
import ComplexityPlugin from '@pothos/plugin-complexity';
import ErrorsPlugin from '@pothos/plugin-errors';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import ValidationPlugin from '@pothos/plugin-validation';
import { GraphQLError } from 'graphql';
import { bearerChallenge } from '../core/auth.ts';
import './control-characters.plugin.ts';
import { scopesOf, type AuthScopes } from './auth-scopes.ts';
import type { GraphQLContext } from './context.ts';
import { FieldValidationError } from './validation-error.ts';

/** The Pothos builder. GraphQL types live one per file next to this one, never here. */
export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  AuthScopes: AuthScopes;
  DefaultFieldNullability: false;
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    JSON: { Input: unknown; Output: unknown };
  };
}>({
  // Scope auth first, so no other plugin's wrapper runs before a request is authorised.
  // Control characters are refused before the fields' own validators see the input.
  plugins: [ScopeAuthPlugin, ErrorsPlugin, 'controlCharacters', ValidationPlugin, ComplexityPlugin],
  defaultFieldNullability: false,
  scopeAuth: {
    // Type-level scopes (a row's tenant) are checked once per object, not once per field.
    runScopesOnType: true,
    // A subscription is authorised once, when it subscribes: a refused one gets one error and
    // nothing starts (no bus topic, no listen-in audio), instead of an error per event.
    authorizeOnSubscribe: true,
    authScopes: ({ auth }) => scopesOf(auth),
    // An anonymous subscription over SSE is answered 401: its one error is the whole response.
    unauthorizedError: (_parent, { auth }, info) =>
      auth === null
        ? new GraphQLError('Send an API key: Authorization: Bearer <key>.', {
            extensions: {
              code: 'UNAUTHENTICATED',
              ...(info.operation.operation === 'subscription' ? { http: { status: 401, headers: { 'www-authenticate': bearerChallenge('callwatch') } } } : {}),
            },
          })
        : new GraphQLError('This API key is not allowed to do that.', { extensions: { code: 'FORBIDDEN' } }),
  },
  errors: {
    // Invalid input is an expected failure: mutations list ValidationError in their result
    // union. The validation plugin runs before authorisation, so a key without the role
    // may learn that its input was invalid — never anything about stored data. Requests
    // without any key never get this far (server.ts refuses their mutations first).
    unsafelyHandleInputErrors: true,
    defaultUnionOptions: {
      name: ({ fieldName }) => `${fieldName[0]?.toUpperCase()}${fieldName.slice(1)}Result`,
      description: 'What the field returns: its result, or one of the expected errors it lists (each implements Error).',
    },
    defaultResultOptions: { name: ({ fieldName }) => `${fieldName[0]?.toUpperCase()}${fieldName.slice(1)}Success` },
  },
  // Costs only: the limits are enforced by a validation rule in server.ts, before execution.
  // Lists under an object are short (a call's turns, appointments, attempts): ×5. Fields
  // returning many rows say so themselves (connections: ×first; a lead's calls: ×50).
  complexity: { defaultComplexity: 1, defaultListMultiplier: 5 },
  validation: {
    validationError: (result) => new FieldValidationError(result.issues),
  },
});

/** The builder's schema types, for helpers that take Pothos field builders. */
export type Types = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? T : never;

builder.queryType({ description: 'Reads, scoped to the business of the request’s API key (Authorization: Bearer <key>); only health needs no key.' });
builder.mutationType({ description: 'Changes, scoped to the business of the request’s API key; each is recorded in the audit log. Expected failures come back as typed errors in the result union.' });
