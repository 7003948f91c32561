/**
 * Structured outputs with `strict: true`: the model's answer always matches the schema —
 * OpenAI constrains decoding to it. The stand-in keeps that promise: its default answer is
 * built from the schema, and a test's answer that breaks it is refused, since the real API
 * can never send it. Covers the subset of JSON Schema strict mode accepts that Callwatch
 * uses: `type` (one or a list), `enum`, `const`, `properties` / `required` /
 * `additionalProperties`, `items`, `anyOf`.
 */

type Schema = Record<string, unknown>;

/** The simplest answer the schema allows: null where nullable, an enum's first value, empty strings and lists, zeros. */
export function defaultAnswerFor(schema: Schema): unknown {
  const types = typesOf(schema);
  if (types.includes('null')) return null;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  if ('const' in schema) return schema.const;
  if (Array.isArray(schema.anyOf) && isSchema(schema.anyOf[0])) return defaultAnswerFor(schema.anyOf[0]);
  switch (types[0]) {
    case 'object': {
      const properties = isSchema(schema.properties) ? schema.properties : {};
      return Object.fromEntries(Object.entries(properties).map(([name, property]) => [name, isSchema(property) ? defaultAnswerFor(property) : null]));
    }
    case 'array':
      return [];
    case 'string':
      return '';
    case 'number':
    case 'integer':
      return 0;
    case 'boolean':
      return false;
    default:
      return null;
  }
}

/** Where and how `value` breaks `schema` (e.g. "fields: expected object, got null"), or null when it matches. */
export function schemaMismatch(schema: Schema, value: unknown, path = '(root)'): string | null {
  if (Array.isArray(schema.anyOf)) {
    const branches = schema.anyOf.filter(isSchema);
    return branches.some((branch) => schemaMismatch(branch, value, path) === null) ? null : `${path}: matches none of anyOf`;
  }
  if (Array.isArray(schema.enum) && !schema.enum.some((allowed) => allowed === value)) return `${path}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`;
  if ('const' in schema && schema.const !== value) return `${path}: expected ${JSON.stringify(schema.const)}`;
  const types = typesOf(schema);
  const actual = jsonType(value);
  if (types.length > 0 && !types.includes(actual) && !(actual === 'integer' && types.includes('number'))) return `${path}: expected ${types.join(' or ')}, got ${actual}`;
  if (actual === 'object') {
    const object = value as Record<string, unknown>;
    const properties = isSchema(schema.properties) ? schema.properties : {};
    const required = Array.isArray(schema.required) ? schema.required : [];
    for (const name of required) if (typeof name === 'string' && !(name in object)) return `${path}: missing required property '${name}'`;
    for (const [name, property] of Object.entries(object)) {
      const propertySchema = properties[name];
      if (!isSchema(propertySchema)) {
        if (schema.additionalProperties === false) return `${path}: unexpected property '${name}'`;
        continue;
      }
      const mismatch = schemaMismatch(propertySchema, property, path === '(root)' ? name : `${path}.${name}`);
      if (mismatch) return mismatch;
    }
  }
  if (actual === 'array' && isSchema(schema.items)) {
    const items = schema.items;
    for (const [index, item] of (value as unknown[]).entries()) {
      const mismatch = schemaMismatch(items, item, `${path}[${index}]`);
      if (mismatch) return mismatch;
    }
  }
  return null;
}

function typesOf(schema: Schema): string[] {
  if (typeof schema.type === 'string') return [schema.type];
  return Array.isArray(schema.type) ? schema.type.filter((type): type is string => typeof type === 'string') : [];
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function isSchema(value: unknown): value is Schema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
