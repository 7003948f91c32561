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

/** A LIKE/ILIKE pattern matching `text` anywhere, with its wildcards taken literally. */
export function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;
}
