/**
 * GraphQL Code Generator: typed results and variables for the operations in this folder.
 * Run from here with `npx graphql-codegen --config codegen.ts` (packages:
 * @graphql-codegen/cli and @graphql-codegen/typescript-operations). In a CRM's own repo,
 * point `schema` at Callwatch's schema.graphql or at https://…/graphql with an API key.
 */
const config = {
  schema: '../../schema.graphql',
  documents: ['operations.graphql'],
  generates: {
    'generated/operations.ts': {
      plugins: ['typescript-operations'],
      config: {
        // DateTime is an ISO 8601 string on the wire; JSON is any JSON value.
        scalars: { DateTime: 'string', JSON: 'unknown' },
        strictScalars: true,
      },
    },
  },
};

export default config;
