import { AppError } from '../core/errors.ts';
import { builder } from './builder.ts';
import { FieldValidationError, type FieldError } from './validation-error.ts';

/**
 * Expected failures, returned in mutation result unions (errors plugin). Everything else
 * thrown by a resolver is an internal error and reaches clients masked.
 */
export class NotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotFoundError';
  }
}

export class ConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConflictError';
  }
}

export { FieldValidationError };

const ErrorInterface = builder.interfaceRef<Error>('Error').implement({
  description: 'An expected failure; `message` is written for the person using the CRM.',
  fields: (t) => ({ message: t.exposeString('message', { description: 'What went wrong, in plain words.' }) }),
});

builder.objectType(NotFoundError, {
  name: 'NotFoundError',
  description: 'The thing named does not exist for this business.',
  interfaces: [ErrorInterface],
});

builder.objectType(ConflictError, {
  name: 'ConflictError',
  description: 'The change clashes with existing data (a booked slot, a phone number in use, a finished job).',
  interfaces: [ErrorInterface],
});

const FieldErrorRef = builder.objectRef<FieldError>('FieldError').implement({
  description: 'One invalid input field.',
  fields: (t) => ({
    path: t.exposeStringList('path', { description: 'Argument or input field, e.g. ["input", "startsAt"].' }),
    message: t.exposeString('message', { description: 'What is wrong with it.' }),
  }),
});

builder.objectType(FieldValidationError, {
  name: 'ValidationError',
  description: 'The input was invalid; `fieldErrors` says which fields and why.',
  interfaces: [ErrorInterface],
  fields: (t) => ({ fieldErrors: t.field({ type: [FieldErrorRef], description: 'One entry per invalid field.', resolve: (error) => error.fieldErrors }) }),
});

/**
 * Runs a resolver body and turns the domain's expected AppErrors into the typed errors of
 * the result union. Other errors travel on (and are masked).
 */
export async function domain<T>(body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof AppError) {
      const message = error.userMessage ?? error.message;
      if (error.code === 'NOT_FOUND') throw new NotFoundError(message);
      if (error.code === 'CONFLICT') throw new ConflictError(message);
      if (error.code === 'VALIDATION_FAILED') {
        const field = typeof error.details?.field === 'string' ? error.details.field.split('.') : [];
        throw new FieldValidationError([{ path: field, message }]);
      }
    }
    throw error;
  }
}
