import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isAppError } from '../../src/core/errors.ts';
import { startOpenAIApiStandIn, type OpenAIApiStandIn } from '../../src/sandbox/openai-api.server.ts';
import { freePort } from '../../src/sandbox/ports.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import { capturingLogger } from '../support/logs.ts';
import { callEnvironment } from '../support/twilio.ts';

/**
 * Start-up asks OpenAI for every model the role uses (`GET /v1/models/{model}`), against
 * the REST stand-in: a model OpenAI does not have stops the process before it takes a
 * call nobody would answer; OpenAI out of reach only warns.
 */

/** Starts Callwatch on the stand-in with the check on; resolves to the app, or the start-up error. */
async function start(openaiApi: { url: string; apiKey: string }, env: Record<string, string> = {}) {
  const { logger, lines } = capturingLogger('info');
  const environment = callEnvironment({ OPENAI_API_KEY: openaiApi.apiKey, OPENAI_BASE_URL: openaiApi.url, OPENAI_CHECK_MODELS: 'true', ...env });
  try {
    return { app: await startTestApp(environment, { logger, jobHandlers: {} }), lines, error: undefined };
  } catch (error) {
    return { app: undefined, lines, error };
  }
}

function warnings(lines: Record<string, unknown>[]) {
  return lines.filter((line) => line.level === 40);
}

describe('start-up checks the OpenAI models', () => {
  let openaiApi: OpenAIApiStandIn;
  const apps: TestApp[] = [];

  beforeAll(async () => {
    openaiApi = await startOpenAIApiStandIn();
  });
  afterEach(async () => {
    for (const app of apps.splice(0)) await app.stop();
  });
  afterAll(() => openaiApi.close());

  it('starts when OpenAI has every model, asking once for each', async () => {
    const before = openaiApi.calls.length;
    const { app, lines, error } = await start(openaiApi);
    expect(error).toBeUndefined();
    if (app) apps.push(app);
    const asked = openaiApi.calls.slice(before).map((call) => [call.endpoint, call.model, call.status]);
    expect(asked.toSorted()).toEqual([
      ['models', 'gpt-5.4-mini', 200],
      ['models', 'gpt-live-transcribe', 200],
      ['models', 'gpt-realtime-1.5', 200],
      ['models', 'gpt-transcribe', 200],
    ]);
    expect(warnings(lines)).toEqual([]);
    expect(lines.find((line) => line.msg === 'OpenAI models checked')).toMatchObject({
      models: ['OPENAI_REALTIME_MODEL=gpt-realtime-1.5', 'OPENAI_INPUT_TRANSCRIBE_MODEL=gpt-live-transcribe', 'OPENAI_TRANSCRIBE_MODEL=gpt-transcribe', 'OPENAI_TEXT_MODEL=gpt-5.4-mini'],
    });
  });

  it('fails start-up naming the variable and the model when OpenAI no longer has the voice model', async () => {
    const retiring = await startOpenAIApiStandIn();
    try {
      retiring.retireModel('gpt-realtime-1.5');
      const { app, error } = await start(retiring);
      if (app) apps.push(app);
      expect(isAppError(error, 'STARTUP_FAILED'), String(error)).toBe(true);
      expect((error as Error).message).toBe('OPENAI_REALTIME_MODEL=gpt-realtime-1.5: OpenAI has no such model (or this key cannot use it)');

      // A worker never speaks to a caller: the voice model is not its concern.
      const worker = await start(retiring, { ROLE: 'worker' });
      if (worker.app) apps.push(worker.app);
      expect(worker.error).toBeUndefined();
      expect(retiring.calls.filter((call) => call.endpoint === 'models').slice(-2).map((call) => call.model).toSorted()).toEqual(['gpt-5.4-mini', 'gpt-transcribe']);
    } finally {
      await retiring.close();
    }
  });

  it('names every missing model, a configured one included', async () => {
    const { app, error } = await start(openaiApi, { ROLE: 'worker', OPENAI_TEXT_MODEL: 'gpt-5.4-minni', OPENAI_TRANSCRIBE_MODEL: 'gpt-transcribe-x' });
    if (app) apps.push(app);
    expect(isAppError(error, 'STARTUP_FAILED'), String(error)).toBe(true);
    expect((error as Error).message).toBe(
      'OPENAI_TRANSCRIBE_MODEL=gpt-transcribe-x: OpenAI has no such model (or this key cannot use it); OPENAI_TEXT_MODEL=gpt-5.4-minni: OpenAI has no such model (or this key cannot use it)',
    );
  });

  it('fails start-up when OpenAI refuses the key, without printing it', async () => {
    const { app, error } = await start({ url: openaiApi.url, apiKey: 'sk-wrong-key-s3cr3t' }, { ROLE: 'api' });
    if (app) apps.push(app);
    expect(isAppError(error, 'STARTUP_FAILED'), String(error)).toBe(true);
    expect((error as Error).message).toBe('OPENAI_API_KEY: OpenAI refuses this key (401 invalid_api_key)');
  });

  it('starts with a warning when a model in use has an announced shutdown date', async () => {
    const { app, lines, error } = await start(openaiApi, { ROLE: 'worker', OPENAI_TEXT_MODEL: 'gpt-4.1-mini' });
    if (app) apps.push(app);
    expect(error).toBeUndefined();
    expect(warnings(lines)).toMatchObject([
      { msg: 'an OpenAI model in use has an announced shutdown date', variable: 'OPENAI_TEXT_MODEL', model: 'gpt-4.1-mini', shutdownDate: '2027-01-14' },
    ]);
  });

  it('starts with a warning when OpenAI cannot be reached', async () => {
    const closedPort = await freePort();
    const { app, lines, error } = await start({ url: `http://127.0.0.1:${closedPort}/v1`, apiKey: 'sk-test-key' });
    if (app) apps.push(app);
    expect(error).toBeUndefined();
    expect(warnings(lines)).toMatchObject([
      {
        msg: 'could not check the OpenAI models; starting anyway',
        models: ['OPENAI_REALTIME_MODEL=gpt-realtime-1.5', 'OPENAI_INPUT_TRANSCRIBE_MODEL=gpt-live-transcribe', 'OPENAI_TRANSCRIBE_MODEL=gpt-transcribe', 'OPENAI_TEXT_MODEL=gpt-5.4-mini'],
        reason: 'Connection error.',
      },
    ]);
  });

  it('starts with a warning when OpenAI answers the check with a server error', async () => {
    openaiApi.failNext('models', { status: 503 }, Infinity);
    try {
      const { app, lines, error } = await start(openaiApi, { ROLE: 'api' });
      if (app) apps.push(app);
      expect(error).toBeUndefined();
      expect(warnings(lines)).toMatchObject([{ msg: 'could not check the OpenAI models; starting anyway', reason: expect.stringContaining('503') }]);
    } finally {
      openaiApi.failNext('models', { status: 503 }, 0);
    }
  });

  it('asks nothing when OPENAI_CHECK_MODELS=false or there is no key', async () => {
    const before = openaiApi.calls.length;
    const off = await start(openaiApi, { OPENAI_CHECK_MODELS: 'false', OPENAI_REALTIME_MODEL: 'gpt-nonexistent' });
    if (off.app) apps.push(off.app);
    expect(off.error).toBeUndefined();
    const keyless = await start({ url: openaiApi.url, apiKey: '' }, { OPENAI_REALTIME_MODEL: 'gpt-nonexistent' });
    if (keyless.app) apps.push(keyless.app);
    expect(keyless.error).toBeUndefined();
    expect(openaiApi.calls.length).toBe(before);
  });
});
