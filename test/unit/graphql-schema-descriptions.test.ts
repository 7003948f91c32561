import {
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isIntrospectionType,
  isObjectType,
  isSpecifiedScalarType,
  type GraphQLSchema,
} from 'graphql';
import { describe, expect, it } from 'vitest';
import { schema } from '../../src/schema/index.ts';

/**
 * The schema documents itself: a CRM developer reads the API in GraphiQL or in generated
 * types, never in our source. Every type, field, argument, input field and enum value of
 * the schema `npm run schema:print` prints has a description; introspection types and the
 * built-in scalars are GraphQL's own.
 */

/** Each described element by schema coordinate (`Type`, `Type.field`, `Type.field(arg:)`, `Enum.VALUE`), with its description. */
function describedElements(built: GraphQLSchema): [coordinate: string, description: string | null | undefined][] {
  const elements: [string, string | null | undefined][] = [];
  for (const type of Object.values(built.getTypeMap())) {
    if (isIntrospectionType(type) || isSpecifiedScalarType(type)) continue;
    elements.push([type.name, type.description]);
    if (isObjectType(type) || isInterfaceType(type) || isInputObjectType(type)) {
      for (const field of Object.values(type.getFields())) {
        elements.push([`${type.name}.${field.name}`, field.description]);
        if ('args' in field) for (const arg of field.args) elements.push([`${type.name}.${field.name}(${arg.name}:)`, arg.description]);
      }
    }
    if (isEnumType(type)) for (const value of type.getValues()) elements.push([`${type.name}.${value.name}`, value.description]);
  }
  return elements;
}

describe('GraphQL schema descriptions', () => {
  const elements = describedElements(schema);

  it('covers the whole schema', () => {
    // Guards the walk itself: types, fields, arguments and enum values are all visited.
    expect(elements.length).toBeGreaterThan(600);
    expect(elements.map(([coordinate]) => coordinate)).toEqual(
      expect.arrayContaining(['Call', 'Call.status', 'Query.calls(first:)', 'CreateLeadInput.phone', 'CallStatus.IN_PROGRESS']),
    );
  });

  it('describes every type, field, argument, input field and enum value', () => {
    const missing = elements.filter(([, description]) => !description?.trim()).map(([coordinate]) => coordinate);
    expect(missing, `add a description to each of these (Pothos: \`description\`; enum values: enumValues(values, descriptions)):\n${missing.join('\n')}`).toEqual([]);
  });

  it('starts every description with a sentence, not with "e.g."', () => {
    const exampleFirst = elements.filter(([, description]) => /^e\.g\./i.test(description ?? '')).map(([coordinate]) => coordinate);
    expect(exampleFirst).toEqual([]);
  });
});
