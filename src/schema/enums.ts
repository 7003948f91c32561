/**
 * GraphQL enum values for a list of stored values: `in-progress` → `IN_PROGRESS`, while the
 * resolvers keep seeing the stored value.
 */
export function enumValues<const V extends string>(values: readonly V[]): Record<string, { value: V }> {
  return Object.fromEntries(values.map((value) => [value.replaceAll('-', '_').toUpperCase(), { value }]));
}
