import type { EntityManager } from '@mikro-orm/postgresql';
import type OpenAI from 'openai';
import type { Config } from '../../core/config.ts';
import { AppError, describeError } from '../../core/errors.ts';
import type { Metrics } from '../../core/metrics.ts';
import type { PipelineStep } from '../../entities/call.entity.ts';
import type { PipelineUsage } from '../../core/call-usage.ts';
import type { CallChanges, PipelineCall, Recording } from './state.ts';

/** What a step needs besides the call. */
export interface StepDeps {
  em: EntityManager;
  config: Config;
  /** The OpenAI REST client, or null when OPENAI_API_KEY is not set. */
  openai: OpenAI | null;
  signal: AbortSignal;
  /**
   * The recording this run downloaded, if it did: the transcription step takes it from here
   * instead of reading it back from Postgres (where it is stored for a run that resumes).
   */
  recording: Recording | null;
  /** Counts what the steps' remote services refused (openai_rest_errors_total, twilio_rest_errors_total). */
  metrics: Metrics;
}

/**
 * How a step ended. `done`: it produced its result; `skipped`: there was nothing to do (no
 * recording, no text); `failed`: it cannot succeed — its error stays on the call and what it
 * would have produced stays null. A step that might succeed later throws a retryable error
 * instead, and the job is retried from that step.
 */
export type StepOutcome =
  | {
      outcome: 'done';
      changes?: CallChanges;
      /** Delete the stored recording with the result. */
      dropRecording?: boolean;
      /** Store this downloaded recording with the result. */
      recording?: Recording;
      /** What the step used of OpenAI (added to the call's usage with its result). */
      usage?: Partial<PipelineUsage>;
    }
  | { outcome: 'skipped'; changes?: CallChanges; reason: string }
  | { outcome: 'failed'; error: string };

/**
 * One step of the pipeline. `run` must be idempotent: it may run again after a crash that
 * came before its result was recorded. The orchestrator (process-call.ts) records what it
 * returns on the call.
 */
export interface PipelineStepModule {
  name: PipelineStep;
  /**
   * The call's columns this step writes. When it fails or is skipped they are written null,
   * so a reprocessed call never shows an earlier revision's value beside this run's error.
   */
  produces: readonly (keyof CallChanges)[];
  run(call: PipelineCall, deps: StepDeps): Promise<StepOutcome>;
}

/** A failure trying again may fix (network, 5xx, rate limit): the job is retried. */
export function transientFailure(what: string, error: unknown): AppError {
  return new AppError('UPSTREAM_FAILED', `${what}: ${describeError(error)}`, { retryable: true, cause: error });
}

/**
 * OpenAI's HTTP statuses that no retry will fix (bad request, auth, not found, too large).
 * A 429 here is a rate limit; ai.ts tells an account out of quota (also a 429) apart.
 */
export function isPermanentStatus(status: number | undefined): boolean {
  return status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 409 && status !== 429;
}

/** The text tokens of a `/v1/responses` answer (its `usage`; none reported: none counted). */
export function textUsage(usage: { input_tokens: number; output_tokens: number } | undefined): Partial<PipelineUsage> {
  return { textInputTokens: usage?.input_tokens ?? 0, textOutputTokens: usage?.output_tokens ?? 0 };
}

/** The conversation as the realtime session transcribed it, one `speaker: text` line per turn. */
export function realtimeTranscript(call: PipelineCall): string | null {
  const lines = call.transcriptTurns.filter((turn) => turn.text.trim() !== '').map((turn) => `${turn.speaker === 'agent' ? 'Agent' : 'Caller'}: ${turn.text.trim()}`);
  return lines.length > 0 ? lines.join('\n') : null;
}

/** The best text of the call for summary and extraction: the recording's transcript, else the realtime one. */
export function callText(call: PipelineCall): string | null {
  return call.finalTranscript ?? realtimeTranscript(call);
}

