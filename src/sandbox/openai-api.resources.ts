import { randomBytes } from 'node:crypto';
import type { Transcription } from 'openai/resources/audio/transcriptions';
import type { Response } from 'openai/resources/responses/responses';
import type { ResponseRequest, TranscriptionRequest } from './openai-api.requests.ts';

/** The body of every OpenAI error answer. */
export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** A status and OpenAI error body, ready to send. */
export interface ErrorAnswer {
  status: number;
  body: OpenAIErrorBody;
  /** Headers OpenAI sends with it (a rate limit's `x-ratelimit-*`). */
  headers?: Record<string, string>;
}

/** A failure a test scripts; fields left out take what OpenAI sends for that status. */
export interface FailureSpec {
  status: number;
  message?: string;
  type?: string;
  code?: string | null;
}

export function errorAnswer(status: number, message: string, options: { type?: string; param?: string | null; code?: string | null } = {}): ErrorAnswer {
  return { status, body: { error: { message, type: options.type ?? 'invalid_request_error', param: options.param ?? null, code: options.code ?? null } } };
}

/** OpenAI's wording for the statuses a test is likely to script. */
const DEFAULT_FAILURES: Record<number, { message: string; type: string; code: string | null }> = {
  400: { message: 'Invalid request.', type: 'invalid_request_error', code: null },
  401: { message: 'Incorrect API key provided.', type: 'invalid_request_error', code: 'invalid_api_key' },
  403: { message: 'Project does not have access to this model.', type: 'invalid_request_error', code: 'model_not_found' },
  408: { message: 'Request timed out.', type: 'invalid_request_error', code: null },
  429: { message: 'Rate limit reached for requests. Please try again in 20ms.', type: 'requests', code: 'rate_limit_exceeded' },
  500: { message: 'The server had an error while processing your request. Sorry about that!', type: 'server_error', code: null },
  502: { message: 'Bad gateway.', type: 'server_error', code: null },
  503: { message: 'The engine is currently overloaded, please try again later.', type: 'server_error', code: null },
};

/**
 * An account out of credit: a 429 like a rate limit, but no wait will fix it (the SDK still
 * retries it, as any 429). Body as OpenAI sends it (e.g. NextChat#4101, 2024).
 */
const INSUFFICIENT_QUOTA = {
  message: 'You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.',
  type: 'insufficient_quota',
  code: 'insufficient_quota',
};

/**
 * A rate limit's headers: the request budget spent, and when it refills (OpenAI sends these
 * `x-ratelimit-*` headers on every answer; the SDK backs off by itself, it reads only
 * `retry-after(-ms)`, which OpenAI does not document).
 */
const RATE_LIMIT_HEADERS = {
  'x-ratelimit-limit-requests': '5000',
  'x-ratelimit-remaining-requests': '0',
  'x-ratelimit-reset-requests': '20ms',
  'x-ratelimit-limit-tokens': '4000000',
  'x-ratelimit-remaining-tokens': '3999000',
  'x-ratelimit-reset-tokens': '0s',
};

export function failureAnswer(failure: FailureSpec): ErrorAnswer {
  const quota = failure.status === 429 && (failure.code === 'insufficient_quota' || failure.type === 'insufficient_quota');
  const fallback = (quota ? INSUFFICIENT_QUOTA : DEFAULT_FAILURES[failure.status]) ?? {
    message: `Stand-in failure ${failure.status}`,
    type: failure.status >= 500 ? 'server_error' : 'invalid_request_error',
    code: null,
  };
  const answer = errorAnswer(failure.status, failure.message ?? fallback.message, { type: failure.type ?? fallback.type, code: failure.code === undefined ? fallback.code : failure.code });
  return failure.status === 429 && !quota ? { ...answer, headers: RATE_LIMIT_HEADERS } : answer;
}

/** OpenAI's 401 for a missing or wrong key; a wrong key is echoed masked, as OpenAI does. */
export function unauthorizedAnswer(given: string | null): ErrorAnswer {
  if (given === null) {
    return errorAnswer(
      401,
      "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
      { code: 'invalid_api_key' },
    );
  }
  const masked = given.length > 8 ? `${given.slice(0, 3)}${'*'.repeat(given.length - 7)}${given.slice(-4)}` : '*'.repeat(given.length);
  return errorAnswer(401, `Incorrect API key provided: ${masked}. You can find your API key at https://platform.openai.com/account/api-keys.`, { code: 'invalid_api_key' });
}

/**
 * The body of `POST /v1/audio/transcriptions` with the default `json` format. The gpt-4o
 * transcribe models bill by tokens (`usage.type: 'tokens'`, audio at about ten tokens a
 * second as the Realtime API counts it, the prompt as text); whisper-1 and gpt-transcribe
 * bill by the second (`usage.type: 'duration'`, whole seconds rounded up).
 */
export function transcriptionObject(text: string, request: Pick<TranscriptionRequest, 'model' | 'durationSec' | 'prompt'>): Transcription {
  if (!request.model.startsWith('gpt-4o')) return { text, usage: { type: 'duration', seconds: Math.ceil(request.durationSec) } };
  const audioTokens = Math.ceil(request.durationSec * 10);
  const textTokens = estimateTokens(request.prompt ?? '');
  const outputTokens = estimateTokens(text);
  return {
    text,
    usage: {
      type: 'tokens',
      input_tokens: audioTokens + textTokens,
      input_token_details: { audio_tokens: audioTokens, text_tokens: textTokens },
      output_tokens: outputTokens,
      total_tokens: audioTokens + textTokens + outputTokens,
    },
  };
}

/** OpenAI's upload cap for `/v1/audio/transcriptions`: 25 MiB of request body. */
export const MAX_TRANSCRIPTION_UPLOAD_BYTES = 26_214_400;

/**
 * OpenAI's 413 for an upload over 25 MiB, as its gateway words it — a `server_error`, no
 * code — e.g. "Maximum content size limit (26214400) exceeded (26306794 bytes read)"
 * (github.com/StanGirard/speechdigest/issues/1, chidiwilliams/buzz#381). The real count is
 * of what the gateway read before it gave up; the stand-in reads the whole body and says so.
 */
export function uploadTooLargeAnswer(bytesRead: number): ErrorAnswer {
  return errorAnswer(413, `Maximum content size limit (${MAX_TRANSCRIPTION_UPLOAD_BYTES}) exceeded (${bytesRead} bytes read)`, { type: 'server_error' });
}

/**
 * OpenAI's 400 for audio longer than the model takes, with the duration unrounded, e.g.
 * "audio duration 1537.57625 seconds is longer than 1400 seconds which is the maximum for
 * this model" (quoted from real answers in public code; the gpt-4o-transcribe cap of 1500 s:
 * community.openai.com/t/gpt4-0-transcribe-max-1500-seconds/1306684).
 */
export function audioTooLongAnswer(durationSec: number, maxSec: number): ErrorAnswer {
  return errorAnswer(400, `audio duration ${durationSec} seconds is longer than ${maxSec} seconds which is the maximum for this model`);
}

/** A Response object as `POST /v1/responses` returns it; the SDK adds `output_text` from `output`. */
export function responseObject(request: ResponseRequest, text: string): Omit<Response, 'output_text'> & { store: boolean } {
  const body = request.body;
  const now = Math.floor(Date.now() / 1000);
  const inputTokens = estimateTokens(request.inputText) + estimateTokens(request.instructions ?? '');
  const outputTokens = estimateTokens(text);
  return {
    id: `resp_${randomBytes(24).toString('hex')}`,
    object: 'response',
    created_at: now,
    status: 'completed',
    background: false,
    completed_at: now,
    error: null,
    incomplete_details: null,
    instructions: request.instructions,
    max_output_tokens: (body.max_output_tokens as number | undefined) ?? null,
    max_tool_calls: null,
    model: request.model,
    output: [
      {
        id: `msg_${randomBytes(24).toString('hex')}`,
        type: 'message',
        status: 'completed',
        role: 'assistant',
        content: [{ type: 'output_text', text, annotations: [], logprobs: [] }],
      },
    ],
    parallel_tool_calls: (body.parallel_tool_calls as boolean | undefined) ?? true,
    previous_response_id: (body.previous_response_id as string | undefined) ?? null,
    prompt_cache_key: (body.prompt_cache_key as string | undefined) ?? null,
    reasoning: { effort: null, summary: null },
    safety_identifier: (body.safety_identifier as string | undefined) ?? null,
    service_tier: 'default',
    store: (body.store as boolean | undefined) ?? true,
    temperature: (body.temperature as number | undefined) ?? 1,
    text: { format: request.format.type === 'text' ? { type: 'text' } : { ...request.format, strict: request.format.strict ?? false }, verbosity: 'medium' },
    tool_choice: (body.tool_choice as Response['tool_choice'] | undefined) ?? 'auto',
    tools: (body.tools as Response['tools'] | undefined) ?? [],
    top_logprobs: 0,
    top_p: (body.top_p as number | undefined) ?? 1,
    truncation: 'disabled',
    usage: {
      input_tokens: inputTokens,
      input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 },
      output_tokens: outputTokens,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: inputTokens + outputTokens,
    },
    metadata: (body.metadata as Record<string, string> | undefined) ?? {},
    access_programs: null,
  };
}

/** About four characters a token — close enough for usage a test reads. */
function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}
