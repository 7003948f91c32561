import OpenAI, { APIError } from 'openai';
import type { Config } from './config.ts';
import { AppError, describeError } from './errors.ts';
import type { Logger } from './logger.ts';

/** A model this process uses, by the variable that configures it. */
export interface ModelInUse {
  variable: 'OPENAI_REALTIME_MODEL' | 'OPENAI_INPUT_TRANSCRIBE_MODEL' | 'OPENAI_TRANSCRIBE_MODEL' | 'OPENAI_TEXT_MODEL';
  model: string;
}

/** One request, one attempt: start-up waits at most this long for OpenAI's answer. */
export const MODEL_CHECK_TIMEOUT_MS = 5_000;

type Lookup =
  | { kind: 'found'; shutdownDate: string | null }
  | { kind: 'missing' }
  | { kind: 'key refused' }
  | { kind: 'unchecked'; reason: string };

/**
 * The models the configured role uses: the api role runs calls (the voice agent and the
 * caller's live transcript), the worker role the post-call pipeline (the recording's
 * transcription, summary and extraction); `all` both.
 */
export function modelsInUse(config: Config): ModelInUse[] {
  const { realtimeModel, inputTranscribeModel, transcribeModel, textModel } = config.openai;
  const models: ModelInUse[] = [];
  if (config.role !== 'worker') {
    models.push({ variable: 'OPENAI_REALTIME_MODEL', model: realtimeModel }, { variable: 'OPENAI_INPUT_TRANSCRIBE_MODEL', model: inputTranscribeModel });
  }
  if (config.role !== 'api') {
    models.push({ variable: 'OPENAI_TRANSCRIBE_MODEL', model: transcribeModel }, { variable: 'OPENAI_TEXT_MODEL', model: textModel });
  }
  return models;
}

/**
 * Asks OpenAI (`GET /v1/models/{model}` at OPENAI_BASE_URL, all at once) for each model the
 * role uses, when OPENAI_API_KEY is set and OPENAI_CHECK_MODELS is on. A model OpenAI does
 * not have (or will not let this key use), or a key it refuses, fails start-up with an
 * AppError('STARTUP_FAILED') naming the variable: a process that starts anyway answers
 * every call with silence. When OpenAI cannot be asked (network, timeout, 5xx, a key
 * without the models permission, a proxy without the endpoint) it logs a warning and
 * resolves: an outage of the check must not keep the calls down. A model with an
 * announced shutdown date is a warning too.
 */
export async function checkOpenAIModels(config: Config, logger: Logger, options: { signal?: AbortSignal } = {}): Promise<void> {
  const { apiKey, baseUrl, checkModels } = config.openai;
  if (!apiKey || !checkModels) return;
  const inUse = modelsInUse(config);
  const client = new OpenAI({ apiKey, baseURL: baseUrl, maxRetries: 0, timeout: MODEL_CHECK_TIMEOUT_MS });
  const lookups = new Map<string, Promise<Lookup>>();
  for (const { model } of inUse) if (!lookups.has(model)) lookups.set(model, lookUp(client, model, options.signal));
  const results = await Promise.all(inUse.map(async (entry) => ({ ...entry, lookup: await (lookups.get(entry.model) as Promise<Lookup>) })));
  // Start-up failed elsewhere meanwhile: nobody waits for this verdict.
  if (options.signal?.aborted) return;

  if (results.some(({ lookup }) => lookup.kind === 'key refused')) {
    throw new AppError('STARTUP_FAILED', 'OPENAI_API_KEY: OpenAI refuses this key (401 invalid_api_key)');
  }
  const missing = results.filter(({ lookup }) => lookup.kind === 'missing');
  if (missing.length > 0) {
    const problems = missing.map(({ variable, model }) => `${variable}=${model}: OpenAI has no such model (or this key cannot use it)`);
    throw new AppError('STARTUP_FAILED', problems.join('; '), { details: { models: missing.map(({ variable, model }) => ({ variable, model })) } });
  }
  const unchecked: string[] = [];
  const reasons = new Set<string>();
  for (const { variable, model, lookup } of results) {
    if (lookup.kind === 'unchecked') {
      unchecked.push(`${variable}=${model}`);
      reasons.add(lookup.reason);
    } else if (lookup.kind === 'found' && lookup.shutdownDate) {
      logger.warn({ variable, model, shutdownDate: lookup.shutdownDate }, 'an OpenAI model in use has an announced shutdown date');
    }
  }
  if (unchecked.length > 0) {
    logger.warn({ models: unchecked, reason: [...reasons].join('; ') }, 'could not check the OpenAI models; starting anyway');
    return;
  }
  logger.info({ models: results.map(({ variable, model }) => `${variable}=${model}`) }, 'OpenAI models checked');
}

async function lookUp(client: OpenAI, model: string, signal: AbortSignal | undefined): Promise<Lookup> {
  try {
    const found = await client.models.retrieve(model, { signal });
    return { kind: 'found', shutdownDate: found.shutdown_date ?? null };
  } catch (error) {
    // OpenAI's own "no such model" (404 for the lookup, 403 for a model the project may not
    // use). A 404 without that code is an endpoint the base URL does not have, e.g. a proxy.
    if (error instanceof APIError && error.code === 'model_not_found') return { kind: 'missing' };
    if (error instanceof APIError && error.status === 401 && error.code === 'invalid_api_key') return { kind: 'key refused' };
    return { kind: 'unchecked', reason: describeError(error) };
  }
}
