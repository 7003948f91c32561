import { GraphQLError } from 'graphql';
import type { StandardSchemaV1 } from '@pothos/plugin-validation';

/** One problem with the input: where (argument/field path) and what is wrong. */
export interface FieldError {
  path: string[];
  message: string;
}

/**
 * Input that failed validation. In a mutation's result union it is the typed
 * `ValidationError`; thrown from a query it is a GraphQL error with code
 * `VALIDATION_FAILED` and the same field errors in its extensions.
 */
export class FieldValidationError extends GraphQLError {
  readonly fieldErrors: FieldError[];

  constructor(issues: readonly StandardSchemaV1.Issue[] | FieldError[]) {
    const fieldErrors = issues.map((issue) => ({
      path: (issue.path ?? []).map((part) => String(typeof part === 'object' ? part.key : part)),
      message: issue.message,
    }));
    const summary = fieldErrors.map((error) => (error.path.length ? `${error.path.join('.')}: ${error.message}` : error.message));
    super(`Invalid input: ${summary.join('; ')}`, { extensions: { code: 'VALIDATION_FAILED', fieldErrors } });
    this.name = 'ValidationError';
    this.fieldErrors = fieldErrors;
  }
}
