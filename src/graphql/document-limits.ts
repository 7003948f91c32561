import { GraphQLError, parse, type ParseOptions, type Source } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Metrics } from '../core/metrics.ts';
import { repeatedFieldProblem } from './field-repeats.ts';

/**
 * Parses every GraphQL document — HTTP, SSE and graphql-ws alike — with a limit on its
 * tokens, and as many comments (which the parser keeps too). graphql-js counts tokens as
 * it reads them and stops at the limit, so a document of a megabyte of tokens costs what
 * `maxTokens` tokens cost before it is refused, and nothing of it reaches validation
 * (security review F2). A document within the limit that would still make validation
 * quadratic — one field asked for over and over in one selection — is refused the same
 * way, in time linear in its size (see repeatedFieldProblem). The refusal is a GraphQL
 * error with code QUERY_TOO_LARGE; over HTTP and SSE its status is 400.
 */
export function documentLimitsPlugin(maxTokens: number, metrics: Metrics): Plugin {
  const limits: ParseOptions = { maxLexicalTokens: maxTokens, maxComments: maxTokens };
  // graphql-js reports either limit as a syntax error; its message is the only thing telling them apart.
  const overLimit = new RegExp(`Document contains more than ${maxTokens} (tokens|comments)\\. Parsing aborted\\.$`);
  const parseWithLimits = (source: string | Source, options?: ParseOptions) => {
    let document;
    try {
      document = parse(source, { ...options, ...limits });
    } catch (error) {
      const what = error instanceof GraphQLError ? overLimit.exec(error.message)?.[1] : undefined;
      if (what === undefined) throw error;
      metrics.increment('graphql_document_too_large_total');
      throw new GraphQLError(`The document has more than ${maxTokens} ${what}, the limit.`, { extensions: { code: 'QUERY_TOO_LARGE', maxTokens } });
    }
    const problem = repeatedFieldProblem(document);
    if (problem) {
      metrics.increment('graphql_document_too_large_total');
      throw new GraphQLError(problem, { extensions: { code: 'QUERY_TOO_LARGE' } });
    }
    return document;
  };
  return {
    onParse({ setParseFn }) {
      setParseFn(parseWithLimits);
    },
    onExecutionResult({ result }) {
      // Yoga marks every parse error `http.spec`, which answers it with 200 under `Accept:
      // application/json` (GraphQL over HTTP's rule for request errors). A refused document
      // is a 400 whatever the client accepts, like the 413 of a body over the limit.
      if (!result || Array.isArray(result) || !('errors' in result)) return;
      for (const error of result.errors ?? []) {
        if (error.extensions?.code === 'QUERY_TOO_LARGE') error.extensions.http = { status: 400 };
      }
    },
  };
}
