import OpenAI, { APIConnectionError, APIError } from 'openai';
import type { Config } from '../../core/config.ts';
import { describeError } from '../../core/errors.ts';
import { isPermanentStatus, transientFailure, type StepOutcome } from './step.ts';

/** The OpenAI REST client of the pipeline's AI steps, or null when no API key is configured. */
export function createOpenAIClient(config: Config): OpenAI | null {
  const { apiKey, baseUrl } = config.openai;
  if (!apiKey) return null;
  // The SDK retries connection errors, 408/409/429 and 5xx twice with backoff; beyond that
  // the job's own retries (from this step) take over.
  return new OpenAI({ apiKey, baseURL: baseUrl, maxRetries: 2, timeout: 120_000 });
}

/**
 * Runs one OpenAI request for a step. A failure no retry will fix (400, 401, 404, 413, …)
 * ends the step as `failed` with the error; anything else is thrown as retryable (and on
 * the job's last attempt, process-call.ts ends the step `failed` with it).
 */
export async function askOpenAI<T>(
  what: string,
  openai: OpenAI | null,
  request: (client: OpenAI) => Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; outcome: StepOutcome }> {
  if (!openai) return { ok: false, outcome: { outcome: 'failed', error: `${what}: OPENAI_API_KEY is not set` } };
  try {
    return { ok: true, value: await request(openai) };
  } catch (error) {
    const message = `${what}: ${describeOpenAIError(error)}`;
    const permanent = error instanceof APIError && !(error instanceof APIConnectionError) && isPermanentStatus(error.status);
    if (permanent) return { ok: false, outcome: { outcome: 'failed', error: message } };
    throw transientFailure(what, new Error(describeOpenAIError(error)));
  }
}

function describeOpenAIError(error: unknown): string {
  if (error instanceof APIError && error.status !== undefined) return `OpenAI answered ${error.status}: ${describeError(error).replace(/^\d{3}\s*/, '')}`;
  return describeError(error);
}
