/**
 * GraphQL enum values for a list of stored values: `in-progress` → `IN_PROGRESS`, while the
 * resolvers keep seeing the stored value. `descriptions` documents each value (one entry per
 * stored value, so a value added to the entity's list without a description does not compile).
 */
export function enumValues<const V extends string>(values: readonly V[], descriptions: Record<V, string>): Record<string, { value: V; description: string }> {
  return Object.fromEntries(values.map((value) => [value.replaceAll('-', '_').toUpperCase(), { value, description: descriptions[value] }]));
}
