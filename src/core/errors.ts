/**
 * The one error type of Callwatch. Every expected failure is an AppError with a stable
 * `code`; `userMessage` is set when a person (CRM user, supervisor, operator) will read it;
 * `retryable` says whether trying again later can succeed (remote services, locks).
 */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'STARTUP_FAILED'
  | 'DATABASE_UNAVAILABLE'
  | 'NOT_FOUND'
  | 'VALIDATION_FAILED'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'CONFLICT'
  | 'JOB_PAYLOAD_INVALID'
  | 'UPSTREAM_FAILED'
  | 'INTERNAL';

export interface AppErrorOptions {
  userMessage?: string;
  retryable?: boolean;
  cause?: unknown;
  details?: Record<string, unknown>;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly userMessage: string | undefined;
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.userMessage = options.userMessage;
    this.retryable = options.retryable ?? false;
    this.details = options.details;
  }
}

/** True when `error` is an AppError, optionally of the given code. */
export function isAppError(error: unknown, code?: ErrorCode): error is AppError {
  return error instanceof AppError && (code === undefined || error.code === code);
}

/**
 * A one-line description of any thrown value, for logs and start-up failures. An object
 * with a string `message` counts as an error: pg-boss emits its workers' errors spread
 * into plain objects (`{ ...error, message, stack, queue }`), which String() would make
 * `[object Object]`.
 */
export function describeError(error: unknown): string {
  const message = messageOf(error);
  if (message !== undefined) return message.split('\n')[0] || (error instanceof Error ? error.name : 'error');
  return String(error);
}

/** The `code` of a thrown value (a Node, Postgres or AppError code), when it has one. */
export function errorCode(error: unknown): string | undefined {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' || typeof code === 'number' ? String(code) : undefined;
}

function messageOf(error: unknown): string | undefined {
  if (error instanceof Error) return error.message;
  const message = typeof error === 'object' && error !== null ? (error as { message?: unknown }).message : undefined;
  return typeof message === 'string' ? message : undefined;
}
