import SchemaBuilder from '@pothos/core';
import type { GraphQLContext } from './context.ts';

/** The Pothos builder. GraphQL types live one per file next to this one, never here. */
export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  DefaultFieldNullability: false;
}>({
  defaultFieldNullability: false,
});

builder.queryType({});
