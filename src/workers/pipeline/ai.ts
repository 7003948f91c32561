import OpenAI, { APIConnectionError, APIError } from 'openai';
import type { Config } from '../../core/config.ts';
import { describeError } from '../../core/errors.ts';
import type { Metrics } from '../../core/metrics.ts';
import { isPermanentStatus, transientFailure, type StepOutcome } from './step.ts';

/** The OpenAI REST client of the pipeline's AI steps, or null when no API key is configured. */
export function createOpenAIClient(config: Config, metrics?: Metrics): OpenAI | null {
  const { apiKey, baseUrl } = config.openai;
  if (!apiKey) return null;
  const fetch = metrics ? countingErrors(metrics) : noRetryWithoutQuota;
  // The SDK retries connection errors, 408/409/429 and 5xx twice with backoff; beyond that
  // the job's own retries (from this step) take over. An account out of quota is a 429
  // too, which no retry fixes: `fetch` tells the SDK not to retry it.
  return new OpenAI({ apiKey, baseURL: baseUrl, maxRetries: 2, timeout: 120_000, fetch });
}

/**
 * Runs one OpenAI request for a step. A failure no retry will fix (400, 401, 404, 413, an
 * account out of quota…) ends the step as `failed` with the error at once; anything else
 * (network, 5xx, a rate limit) is thrown as retryable (and on the job's last attempt,
 * process-call.ts ends the step `failed` with it).
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
    if (isQuotaError(error)) return { ok: false, outcome: { outcome: 'failed', error: `${what}: ${quotaMessage}` } };
    const message = `${what}: ${describeOpenAIError(error)}`;
    const permanent = error instanceof APIError && !(error instanceof APIConnectionError) && isPermanentStatus(error.status);
    if (permanent) return { ok: false, outcome: { outcome: 'failed', error: message } };
    throw transientFailure(what, new Error(describeOpenAIError(error)));
  }
}

/** What the business's people read on the call and in the webhook's `errors`. */
const quotaMessage = 'OpenAI: the account has no quota left (insufficient_quota) — check billing';

/**
 * OpenAI's 429 for an account out of credit: `type` `insufficient_quota`, and `code`
 * `insufficient_quota` (or another code naming the balance, e.g. `credit_balance_exhausted`).
 */
function isQuotaError(error: unknown): boolean {
  return error instanceof APIError && error.status === 429 && (error.type === 'insufficient_quota' || error.code === 'insufficient_quota');
}

function describeOpenAIError(error: unknown): string {
  if (error instanceof APIError && error.status !== undefined) return `OpenAI answered ${error.status}: ${describeError(error).replace(/^\d{3}\s*/, '')}`;
  return describeError(error);
}

/**
 * `fetch` for the SDK that counts every failed HTTP exchange (each of the SDK's retries
 * too) in `openai_rest_errors_total` by status, or `network` when no answer came.
 */
function countingErrors(metrics: Metrics): typeof noRetryWithoutQuota {
  return async (input, init) => {
    const response = await noRetryWithoutQuota(input, init).catch((error: unknown) => {
      // An abort is this side's choice (shutdown, a lapsed claim), not OpenAI's error.
      if (!init?.signal?.aborted) metrics.incrementLabeled('openai_rest_errors_total', 'network');
      throw error;
    });
    if (!response.ok) metrics.incrementLabeled('openai_rest_errors_total', String(response.status));
    return response;
  };
}

/**
 * `fetch` for the SDK: a 429 that says the quota is gone gets `x-should-retry: false`, the
 * header the SDK obeys before its own retry rules, so it is not sent twice more.
 */
async function noRetryWithoutQuota(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  const response = await fetch(input, init);
  if (response.status !== 429 || response.headers.has('x-should-retry')) return response;
  const body = await response.clone().text();
  let error: { type?: unknown; code?: unknown } | undefined;
  try {
    error = (JSON.parse(body) as { error?: { type?: unknown; code?: unknown } }).error;
  } catch {
    return response;
  }
  if (error?.type !== 'insufficient_quota' && error?.code !== 'insufficient_quota') return response;
  const headers = new Headers(response.headers);
  headers.set('x-should-retry', 'false');
  return new Response(body, { status: response.status, statusText: response.statusText, headers });
}
