import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { EventLog } from './event-log.ts';
import { DEFAULT_MODELS, maxTranscriptionSec, modelList, modelNotFoundAnswer, modelObject, requestedModelMissingAnswer, type StandInModel } from './openai-api.models.ts';
import { parseResponseRequest, parseTranscriptionRequest, type ResponseRequest, type TranscriptionRequest } from './openai-api.requests.ts';
import { defaultAnswerFor, schemaMismatch } from './openai-api.json-schema.ts';
import {
  audioTooLongAnswer,
  errorAnswer,
  failureAnswer,
  MAX_TRANSCRIPTION_UPLOAD_BYTES,
  responseObject,
  transcriptionObject,
  unauthorizedAnswer,
  uploadTooLargeAnswer,
  type ErrorAnswer,
} from './openai-api.resources.ts';
import { closeServer, listenOnLoopback, readBody } from './http.ts';

export type { ResponseRequest, TranscriptionRequest } from './openai-api.requests.ts';
export { DEFAULT_MODELS, type StandInModel } from './openai-api.models.ts';

/** An OpenAI error answer, e.g. { status: 400, message: 'Invalid file format.', code: 'invalid_value' } */
export interface StandInFailure {
  fail: { status: number; message?: string; type?: string; code?: string | null };
}

export type TranscriptionHandler = (request: TranscriptionRequest) => string | StandInFailure | Promise<string | StandInFailure>;

/** For json_schema formats return an object (sent as its JSON text) or a string; for text formats a string. */
export type ResponseHandler = (
  request: ResponseRequest,
) => string | Record<string, unknown> | StandInFailure | Promise<string | Record<string, unknown> | StandInFailure>;

/** `models` is `GET /v1/models` and `GET /v1/models/{model}`. */
export type OpenAIApiEndpoint = 'transcriptions' | 'responses' | 'models';

/** One answered request; `transcription` / `response` are set once the request parsed. */
export interface OpenAIApiCall {
  endpoint: OpenAIApiEndpoint;
  status: number;
  /** When the request arrived, in ms since the epoch. */
  at: number;
  transcription?: TranscriptionRequest;
  response?: ResponseRequest;
  /** The model a `GET /v1/models/{model}` asked for. */
  model?: string;
  /** Why the stand-in refused a test's answer (one the real API can never send); the request got a 500. */
  standInError?: string;
}

export interface OpenAIApiStandInOptions {
  /** Default 'sk-test-key'. */
  apiKey?: string;
  port?: number;
  transcribe?: TranscriptionHandler;
  respond?: ResponseHandler;
  /** The models `GET /v1/models` knows; default DEFAULT_MODELS. */
  models?: readonly StandInModel[];
}

export interface OpenAIApiStandIn {
  /** Base URL for the SDK's baseURL / OPENAI_BASE_URL, ending in /v1. */
  readonly url: string;
  readonly apiKey: string;
  /** Every request answered, in order (EventLog items). */
  readonly calls: readonly OpenAIApiCall[];
  /** How many requests each endpoint answered (any status). */
  count(endpoint: OpenAIApiEndpoint): number;
  /** Replace the handlers (tests script per case). */
  handle(handlers: { transcribe?: TranscriptionHandler; respond?: ResponseHandler }): void;
  /**
   * The next `times` (default 1; Infinity allowed) requests to `endpoint` fail with this error
   * instead of reaching the handler. Failures queue in the order given; `times: 0` clears the
   * endpoint's queue.
   */
  failNext(endpoint: OpenAIApiEndpoint, failure: StandInFailure['fail'], times?: number): void;
  /**
   * The model is gone, as after its shutdown date: `GET /v1/models/{id}` answers 404
   * `model_not_found`, the list leaves it out, and a transcription or response naming it
   * is refused with 400 `model_not_found`.
   */
  retireModel(id: string): void;
  /** The first call matching, already answered or still to come. */
  waitForCall(predicate: (call: OpenAIApiCall) => boolean, timeoutMs?: number): Promise<OpenAIApiCall>;
  close(): Promise<void>;
}

/** What the default transcription handler hears in every recording. */
export const DEFAULT_TRANSCRIPT = 'שלום, אני צריכה שרברב בחיפה מחר בבוקר.';

const POST_ENDPOINTS: Record<string, OpenAIApiEndpoint> = { '/v1/audio/transcriptions': 'transcriptions', '/v1/responses': 'responses' };

type Answer = { status: number; json: unknown } | { status: 200; text: string };

const defaultTranscribe: TranscriptionHandler = () => DEFAULT_TRANSCRIPT;
const defaultRespond: ResponseHandler = (request) =>
  request.format.type === 'json_schema' ? (defaultAnswerFor(request.format.schema) as Record<string, unknown>) : `סיכום: ${request.inputText.slice(0, 80)}`;

/**
 * Starts a local stand-in for the OpenAI REST endpoints Callwatch uses — the post-call
 * pipeline's `POST /v1/audio/transcriptions` (multipart) and `POST /v1/responses` (JSON),
 * and start-up's `GET /v1/models/{model}` (with the list, `GET /v1/models`) — on
 * 127.0.0.1, with OpenAI's Bearer auth, request checks, answer shapes and error bodies,
 * so the official `openai` SDK works against it unchanged.
 */
export async function startOpenAIApiStandIn(options: OpenAIApiStandInOptions = {}): Promise<OpenAIApiStandIn> {
  const apiKey = options.apiKey ?? 'sk-test-key';
  let transcribe = options.transcribe ?? defaultTranscribe;
  let respond = options.respond ?? defaultRespond;
  const calls = new EventLog<OpenAIApiCall>('OpenAI API call');
  const counts: Record<OpenAIApiEndpoint, number> = { transcriptions: 0, responses: 0, models: 0 };
  const failures: Record<OpenAIApiEndpoint, { failure: StandInFailure['fail']; remaining: number }[]> = { transcriptions: [], responses: [], models: [] };
  const models = new Map((options.models ?? DEFAULT_MODELS).map((model) => [model.id, model]));
  const retired = new Set<string>();

  function takeFailure(endpoint: OpenAIApiEndpoint): StandInFailure['fail'] | undefined {
    const head = failures[endpoint][0];
    if (!head) return undefined;
    head.remaining -= 1;
    if (head.remaining <= 0) failures[endpoint].shift();
    return head.failure;
  }

  /** Checks, parses and answers one request to `endpoint`, filling in `call` as it learns. */
  async function answer(endpoint: OpenAIApiEndpoint, req: IncomingMessage, body: Buffer, call: OpenAIApiCall): Promise<Answer | ErrorAnswer> {
    const bearer = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1]?.trim() ?? null;
    if (bearer !== apiKey) return unauthorizedAnswer(bearer);
    if (endpoint === 'models') {
      const failure = takeFailure(endpoint);
      if (failure) return failureAnswer(failure);
      if (call.model === undefined) return { status: 200, json: modelList(models.values()) };
      const model = models.get(call.model);
      return model ? { status: 200, json: modelObject(model) } : modelNotFoundAnswer(call.model);
    }
    if (endpoint === 'transcriptions') {
      // OpenAI's gateway refuses the body before anything reads it.
      if (body.length > MAX_TRANSCRIPTION_UPLOAD_BYTES) return uploadTooLargeAnswer(body.length);
      const request = parseTranscriptionRequest(req.headers['content-type'], body);
      if ('status' in request) return request;
      call.transcription = request;
      if (retired.has(request.model)) return requestedModelMissingAnswer(request.model);
      const maxSec = maxTranscriptionSec(request.model);
      if (maxSec !== undefined && request.durationSec > maxSec) return audioTooLongAnswer(request.durationSec, maxSec);
      const failure = takeFailure(endpoint);
      if (failure) return failureAnswer(failure);
      const text = await transcribe(request);
      if (typeof text !== 'string') return failureAnswer(text.fail);
      return request.responseFormat === 'text' ? { status: 200, text } : { status: 200, json: transcriptionObject(text, request) };
    }
    const request = parseResponseRequest(body);
    if ('status' in request) return request;
    call.response = request;
    if (retired.has(request.model)) return requestedModelMissingAnswer(request.model);
    const failure = takeFailure(endpoint);
    if (failure) return failureAnswer(failure);
    const output = await respond(request);
    if (isFailure(output)) return failureAnswer(output.fail);
    const text = typeof output === 'string' ? output : JSON.stringify(output);
    const impossible = impossibleAnswer(request, text);
    if (impossible) {
      call.standInError = impossible;
      return errorAnswer(500, `The stand-in's handler failed: ${impossible}`, { type: 'server_error' });
    }
    return { status: 200, json: responseObject(request, text) };
  }

  async function serve({ endpoint, model }: Route, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const call: OpenAIApiCall = { endpoint, status: 0, at: Date.now(), ...(model === undefined ? {} : { model }) };
    const body = await readBody(req);
    let result: Answer | ErrorAnswer;
    try {
      result = await answer(endpoint, req, body, call);
    } catch (error) {
      result = errorAnswer(500, `The stand-in's handler failed: ${error instanceof Error ? error.message : String(error)}`, { type: 'server_error' });
    }
    send(res, result);
    call.status = result.status;
    counts[endpoint] += 1;
    calls.push(call);
  }

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    const route = routeOf(req.method ?? 'GET', path);
    if (route === undefined) {
      req.resume();
      send(res, errorAnswer(404, `Invalid URL (${req.method ?? 'GET'} ${path})`));
      return;
    }
    serve(route, req, res).catch((error: unknown) => {
      // Only reading the body can fail here (the client went away); there is no one to answer.
      if (!res.headersSent && !res.destroyed) send(res, errorAnswer(500, error instanceof Error ? error.message : 'Internal Server Error', { type: 'server_error' }));
    });
  });
  const port = await listenOnLoopback(server, options.port);

  return {
    url: `http://127.0.0.1:${port}/v1`,
    apiKey,
    calls: calls.items,
    count: (endpoint) => counts[endpoint],
    handle(handlers) {
      if (handlers.transcribe) transcribe = handlers.transcribe;
      if (handlers.respond) respond = handlers.respond;
    },
    failNext(endpoint, failure, times = 1) {
      if (times <= 0) failures[endpoint].length = 0;
      else failures[endpoint].push({ failure, remaining: times });
    },
    retireModel(id) {
      models.delete(id);
      retired.add(id);
    },
    waitForCall(predicate, timeoutMs) {
      return calls.waitFor(predicate, timeoutMs);
    },
    async close() {
      calls.close('stand-in closed');
      await closeServer(server);
    },
  };
}

interface Route {
  endpoint: OpenAIApiEndpoint;
  /** `GET /v1/models/{model}`'s model, decoded. */
  model?: string;
}

/** The endpoint a method and path ask for; undefined for a path OpenAI does not have. */
function routeOf(method: string, path: string): Route | undefined {
  if (method === 'POST') {
    const endpoint = POST_ENDPOINTS[path];
    return endpoint === undefined ? undefined : { endpoint };
  }
  if (method !== 'GET') return undefined;
  if (path === '/v1/models') return { endpoint: 'models' };
  const model = /^\/v1\/models\/([^/]+)$/.exec(path)?.[1];
  if (model === undefined) return undefined;
  try {
    return { endpoint: 'models', model: decodeURIComponent(model) };
  } catch {
    return undefined;
  }
}

/**
 * Why a handler's answer could never come from OpenAI, or null: a strict json_schema answer
 * always parses and matches its schema.
 */
function impossibleAnswer(request: ResponseRequest, text: string): string | null {
  if (request.format.type !== 'json_schema' || request.format.strict !== true) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return `the answer to the strict json_schema '${request.format.name}' is not JSON`;
  }
  const mismatch = schemaMismatch(request.format.schema, value);
  return mismatch && `the answer does not match the strict json_schema '${request.format.name}' (${mismatch})`;
}

/** A handler's failure, told apart from a json_schema answer by its `fail.status` number. */
function isFailure(output: string | Record<string, unknown> | StandInFailure): output is StandInFailure {
  if (typeof output !== 'object' || !('fail' in output)) return false;
  const fail = output.fail;
  return typeof fail === 'object' && fail !== null && typeof (fail as { status?: unknown }).status === 'number';
}

function send(res: ServerResponse, answer: Answer | ErrorAnswer): void {
  const text = 'text' in answer;
  const payload = text ? answer.text : JSON.stringify('json' in answer ? answer.json : answer.body);
  res.writeHead(answer.status, {
    'Content-Type': text ? 'text/plain; charset=utf-8' : 'application/json',
    'Content-Length': Buffer.byteLength(payload),
    'x-request-id': `req_${randomBytes(16).toString('hex')}`,
    ...('headers' in answer ? answer.headers : {}),
  });
  res.end(payload);
}
