/**
 * Postgres errors by SQLSTATE. Statements sent through Kysely surface the driver's error
 * (code, constraint) rather than a MikroORM exception class, so both are matched by fields.
 */
interface PostgresErrorFields {
  code?: unknown;
  constraint?: unknown;
}

function fieldsOf(error: unknown): PostgresErrorFields {
  return typeof error === 'object' && error !== null ? (error as PostgresErrorFields) : {};
}

/** A unique_violation (23505), of `constraint` when given. */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const fields = fieldsOf(error);
  return fields.code === '23505' && (constraint === undefined || fields.constraint === constraint);
}

/** An exclusion_violation (23P01) of `constraint`. */
export function isExclusionViolation(error: unknown, constraint: string): boolean {
  const fields = fieldsOf(error);
  return fields.code === '23P01' && fields.constraint === constraint;
}

/** A deadlock_detected (40P01): Postgres aborted this statement to break a cycle of waits. */
export function isDeadlock(error: unknown): boolean {
  return fieldsOf(error).code === '40P01';
}

/** A LIKE/ILIKE pattern matching `text` anywhere, with its wildcards taken literally. */
export function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;
}

/** Node socket codes of a connection that failed or broke. */
const connectionErrorCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/** What the pg driver says, without a code, when the server went away or never answered. */
const connectionErrorMessage = /connection terminated|connection timeout|timeout exceeded when trying to connect|terminating connection|the database system is (starting up|shutting down|in recovery)|client has encountered a connection error|not queryable|is not currently accepting connections/i;

/**
 * Whether `error` (or an error it wraps, through `cause`) says the database could not be
 * reached or went away mid-statement — worth trying again once it is back — rather than
 * that the statement itself was refused (a constraint, bad data), which no retry changes.
 * Connection codes: a Node socket code, SQLSTATE class 08 (connection exception), 57P01–03
 * (the server shut down or is starting), 53300 (too many connections); and a database that
 * refuses new connections (`ALTER DATABASE … ALLOW_CONNECTIONS false`, as during a restore).
 */
export function isConnectionError(error: unknown): boolean {
  for (let current = error, depth = 0; typeof current === 'object' && current !== null && depth < 5; depth++) {
    const { code, message, name, cause } = current as { code?: unknown; message?: unknown; name?: unknown; cause?: unknown };
    if (typeof code === 'string' && (connectionErrorCodes.has(code) || code.startsWith('08') || ['57P01', '57P02', '57P03', '53300'].includes(code))) return true;
    if (name === 'ConnectionException') return true;
    if (typeof message === 'string' && connectionErrorMessage.test(message)) return true;
    current = cause;
  }
  return false;
}
