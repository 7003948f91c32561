import { stripControlCharactersDeep } from '../../core/control-characters.ts';
import { AppError, isAppError } from '../../core/errors.ts';
import type { JobHandler } from '../../core/queue.ts';
import type { Services } from '../../core/services.ts';
import { contextOf, inSpan, SpanStatusCode, traceparentOf } from '../../core/tracing.ts';
import type { PipelineStepState } from '../../entities/call.entity.ts';
import { hasEnded } from '../../entities/call-record.ts';
import { addPipelineUsage } from '../../core/call-usage.ts';
import { createOpenAIClient } from './ai.ts';
import { download } from './download.ts';
import { extract } from './extract.ts';
import { save } from './save.ts';
import { loadPipelineCall, recordStep, type CallChanges, type PipelineCall, type Recording } from './state.ts';
import type { PipelineStepModule, StepDeps, StepOutcome } from './step.ts';
import { summarize } from './summarize.ts';
import { transcribe } from './transcribe.ts';

/** Steps 1–4, in order; step 5 (save and enqueue the webhook) is `save`. */
const steps: PipelineStepModule[] = [download, transcribe, summarize, extract];

/**
 * The `call.process` job: runs the post-call pipeline of one call from Postgres alone.
 * Each step's outcome is recorded on the call as it finishes, so a retry after a crash
 * starts at the first step without one — finished steps are never redone. Progress is
 * published on the bus (`call:events`).
 */
export function processCall(services: Services): JobHandler<'call.process'> {
  const openai = createOpenAIClient(services.config, services.metrics);
  return async ({ callId }, { lastAttempt, signal, logger, span }) => {
    span?.setAttribute('callwatch.call.id', callId);
    // Each step's span is a child of this attempt's (itself in the call's trace).
    const parent = span && contextOf(span);
    const em = services.orm.em.fork();
    const call = await loadPipelineCall(em, callId);
    if (!call) return logger.warn({ callId }, 'pipeline: the call no longer exists');
    if (call.pipelineSteps.deliver) return;
    // Twilio's recording callback can overtake the end of the media stream, which writes the
    // transcript and duration: wait (by retrying) for the call to be written, unless this is
    // the last attempt — then go on with what there is.
    if (!hasEnded(call) && !lastAttempt) {
      throw new AppError('UPSTREAM_FAILED', 'the call has not been written yet', { retryable: true });
    }
    services.metrics.increment('pipeline_runs_total');
    const publish = (step: string, state: PipelineStepState) =>
      services.bus.publish('call:events', call.id, { type: 'pipeline.step', callId: call.id, step, outcome: state.status, error: state.error ?? null, at: state.at });

    // The recording this run downloads, handed to the transcription step in memory.
    let recording: Recording | null = null;
    for (const step of steps) {
      if (call.pipelineSteps[step.name]) continue;
      const outcome: StepOutcome = await inSpan(`pipeline ${step.name}`, { parent, attributes: { 'callwatch.pipeline.step': step.name } }, async (stepSpan) => {
        const started = performance.now();
        const outcome = await runStep(step, call, { em, config: services.config, openai, signal, recording, metrics: services.metrics }, lastAttempt).finally(() =>
          services.metrics.observe('pipeline_step_seconds', (performance.now() - started) / 1000, { step: step.name }),
        );
        stepSpan.setAttribute('callwatch.pipeline.outcome', outcome.outcome);
        // Failed for good: the pipeline goes on without it, the span says so (the error's text stays on the call).
        if (outcome.outcome === 'failed') stepSpan.setStatus({ code: SpanStatusCode.ERROR, message: 'step failed' });
        return outcome;
      });
      const state = stepState(outcome);
      const changes = stepChanges(step, outcome);
      const done: (StepOutcome & { outcome: 'done' }) | null = outcome.outcome === 'done' ? outcome : null;
      // What the step used goes with its result, so a run that resumes after a crash has counted it once.
      const usage = done?.usage && call.usage ? addPipelineUsage(call.usage, done.usage, services.config.openai, services.config.openai.prices) : undefined;
      if (!(await recordStep(em, call, step.name, state, usage ? { ...changes, usage } : changes, { dropRecording: done?.dropRecording === true, storeRecording: done?.recording }))) {
        return logger.info({ callId, step: step.name }, 'pipeline: the call was reprocessed meanwhile; this run stops');
      }
      if (state.status === 'failed') {
        services.metrics.increment('pipeline_steps_failed_total');
        logger.warn({ callId, step: step.name, error: state.error }, 'pipeline step failed; the pipeline goes on without its result');
      }
      Object.assign(call, changes);
      if (usage) call.usage = usage;
      call.pipelineSteps = { ...call.pipelineSteps, [step.name]: state };
      recording = done?.recording ?? null;
      publish(step.name, state);
    }

    const saving = performance.now();
    const saved = await inSpan('pipeline deliver', { parent, attributes: { 'callwatch.pipeline.step': 'deliver' } }, (stepSpan) =>
      save(em, services.queue, services.config, call, traceparentOf(stepSpan)).then((saved) => {
        stepSpan.setAttribute('callwatch.pipeline.outcome', saved.step.status);
        return saved;
      }),
    );
    services.metrics.observe('pipeline_step_seconds', (performance.now() - saving) / 1000, { step: 'deliver' });
    if (!saved.recorded) return;
    publish('deliver', saved.step);
    services.bus.publish('call:events', call.id, { type: 'pipeline.finished', callId: call.id, status: saved.status === 'failed' ? 'failed' : 'completed', at: saved.step.at });
  };
}

/**
 * Runs a step. A failure a retry might fix (network, 5xx, rate limit) retries the job from
 * this step — except on the job's last attempt, where the step ends `failed` with that
 * error and the pipeline goes on: the webhook still goes out, with null for what is missing.
 */
export async function runStep(step: PipelineStepModule, call: PipelineCall, deps: StepDeps, lastAttempt: boolean): Promise<StepOutcome> {
  try {
    return await step.run(call, deps);
  } catch (error) {
    if (lastAttempt && isAppError(error) && error.retryable) return { outcome: 'failed', error: `${error.message} (gave up after the last retry)` };
    throw error;
  }
}

/**
 * What a step writes on the call: its changes, and null for every column it produces that
 * it did not fill — on a reprocess, a failed or skipped step must not leave the previous
 * revision's value standing beside its error (the webhook promises null for what is missing).
 * What OpenAI wrote (transcript, summary, extracted fields) is stored without control
 * characters: Postgres refuses NUL, and the rest would reach CRMs through the webhook.
 */
function stepChanges(step: PipelineStepModule, outcome: StepOutcome): CallChanges {
  const cleared: CallChanges = Object.fromEntries(step.produces.map((column) => [column, null]));
  return outcome.outcome === 'failed' ? cleared : { ...cleared, ...stripControlCharactersDeep(outcome.changes) };
}

function stepState(outcome: StepOutcome): PipelineStepState {
  const at = new Date().toISOString();
  switch (outcome.outcome) {
    case 'done':
      return { status: 'done', at };
    case 'skipped':
      return { status: 'skipped', at, reason: outcome.reason };
    case 'failed':
      return { status: 'failed', at, error: outcome.error };
  }
}

export type { PipelineCall };
