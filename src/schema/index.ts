import { lexicographicSortSchema, printSchema } from 'graphql';
import { builder } from './builder.ts';
import './health.ts';

/** The executable schema. Importing a type's file is what adds it. */
export const schema = builder.toSchema();

/** The SDL committed as schema.graphql, sorted so diffs show only real changes. */
export function printSortedSchema(): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
