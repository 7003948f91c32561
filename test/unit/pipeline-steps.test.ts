import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/core/errors.ts';
import { runStep } from '../../src/workers/pipeline/process-call.ts';
import type { PipelineCall } from '../../src/workers/pipeline/state.ts';
import { transientFailure, type PipelineStepModule, type StepDeps } from '../../src/workers/pipeline/step.ts';

/** How a step's failure is handled, whatever the step: retried, or given up on the job's last attempt. */
describe('a pipeline step that fails', () => {
  const call = {} as PipelineCall;
  const deps = {} as StepDeps;
  const failing = (error: Error): PipelineStepModule => ({ name: 'download', produces: [], run: () => Promise.reject(error) });

  it('retries a failure a retry may fix, until the last attempt, then ends failed with the error', async () => {
    const step = failing(transientFailure('recording download', new Error('Twilio answered 503')));
    await expect(runStep(step, call, deps, false)).rejects.toMatchObject({ code: 'UPSTREAM_FAILED', retryable: true });
    expect(await runStep(step, call, deps, true)).toEqual({ outcome: 'failed', error: 'recording download: Twilio answered 503 (gave up after the last retry)' });
  });

  it('lets anything else (a bug, the database) fail the attempt as it is', async () => {
    const bug = failing(new TypeError('x is undefined'));
    await expect(runStep(bug, call, deps, true)).rejects.toThrow('x is undefined');
    const permanent = failing(new AppError('INTERNAL', 'broken'));
    await expect(runStep(permanent, call, deps, true)).rejects.toThrow('broken');
  });
});
