import type { IncomingMessage, ServerResponse } from 'node:http';
import { GraphQLError, validate, type ExecutionArgs } from 'graphql';
import type { CORSOptions, Plugin } from 'graphql-yoga';

/**
 * What /graphql accepts over HTTP besides its size limits (security review F10, F11, F15).
 * Auth is a Bearer header and never a cookie, so none of this is exploitable on its own;
 * it keeps a browser from being used against the API should that ever change.
 */

/**
 * Media types a GraphQL POST may carry (GraphQL over HTTP: `application/json`, plus the
 * older `application/graphql+json` and `application/graphql` yoga still parses). A form
 * (`application/x-www-form-urlencoded`, `multipart/form-data`) or `text/plain` is what a
 * cross-site page can send without a preflight: it is refused before the body is read.
 */
const postMediaTypes = new Set(['application/json', 'application/graphql+json', 'application/graphql']);

/** Whether a /graphql request may go on to yoga: any GET, or a POST of a GraphQL media type. */
export function hasGraphQLMediaType(req: IncomingMessage): boolean {
  if (req.method !== 'POST') return true;
  const mediaType = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  return postMediaTypes.has(mediaType);
}

/** Answers 415, GraphQL-shaped, and closes the connection rather than read the body. */
export function refuseMediaType(res: ServerResponse): void {
  const body = JSON.stringify({
    errors: [
      {
        message: 'Send GraphQL as Content-Type: application/json.',
        extensions: { code: 'UNSUPPORTED_MEDIA_TYPE', accepted: [...postMediaTypes] },
      },
    ],
  });
  res.writeHead(415, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' });
  res.end(body);
}

/**
 * CORS for /graphql: none unless CORS_ORIGINS lists origins; then an Origin on the list is
 * answered with itself (never `*`), without `Access-Control-Allow-Credentials` — the API
 * key travels in a header, not a cookie. Any other Origin gets no CORS headers at all.
 */
export function corsPolicy(origins: readonly string[]): false | ((request: Request) => CORSOptions) {
  if (origins.length === 0) return false;
  return (request) => {
    const origin = request.headers.get('origin');
    if (origin === null || !origins.includes(origin)) return false;
    return {
      // With one origin yoga answers it as is; with several it reflects the matching one and adds `Vary: Origin`.
      origin: [...origins],
      credentials: false,
      methods: ['GET', 'POST'],
      allowedHeaders: ['authorization', 'content-type', 'accept', 'x-request-id'],
    };
  };
}

/**
 * With introspection off, errors must not list the schema's names either: validation and
 * execution (variable coercion) drop graphql-js's "Did you mean …?" suggestions. Applies
 * to graphql-ws too, which runs through the same enveloped validate and execute.
 */
export function hideSuggestionsPlugin(): Plugin {
  const hide = ({ args }: { args: ExecutionArgs }) => {
    (args as { hideSuggestions?: boolean }).hideSuggestions = true;
  };
  return {
    onValidate({ setValidationFn }) {
      setValidationFn((schema, document, rules) => validate(schema, document, rules, { hideSuggestions: true }));
      // Rules run after validation have their own messages: the cost rule coerces the
      // variables with graphql-js's getVariableValues, which suggests enum values.
      return ({ result, setResult }) => {
        if (result.some((error) => suggestion.test(error.message))) setResult(result.map(withoutSuggestion));
      };
    },
    onExecute: hide,
    onSubscribe: hide,
  };
}

const suggestion = / Did you mean .*\?$/s;

function withoutSuggestion(error: Error): Error {
  if (!(error instanceof GraphQLError) || !suggestion.test(error.message)) return error;
  const { nodes, source, positions, path, originalError, extensions } = error;
  return new GraphQLError(error.message.replace(suggestion, ''), { nodes, source, positions, path, originalError, extensions });
}

/**
 * A body that is not JSON gets yoga's "POST body sent invalid JSON." without the parser's
 * message, which quotes the body (`Unexpected token … in "<body>"`): nothing the client
 * sent is echoed back.
 */
export function quietJsonErrorsPlugin(): Plugin {
  return {
    onRequestParse({ requestParser, setRequestParser }) {
      if (requestParser === undefined) return;
      setRequestParser(async (request) => {
        try {
          return await requestParser(request);
        } catch (error) {
          if (!(error instanceof GraphQLError) || error.extensions.originalError === undefined) throw error;
          const { originalError: _quoted, ...extensions } = error.extensions;
          throw new GraphQLError(error.message, { extensions });
        }
      });
    },
  };
}
