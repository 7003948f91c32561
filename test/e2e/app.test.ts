import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventLog } from '../../src/sandbox/event-log.ts';
import type { JobHandlers } from '../../src/workers/index.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import { graphql } from '../support/graphql.ts';

async function getJson(url: string) {
  const response = await fetch(url);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Job handlers that record which call ids they processed, in a log a test can wait on. */
function recordingHandlers(processed: EventLog<string>): JobHandlers {
  return { 'call.process': () => async ({ callId }) => processed.push(callId) };
}

/** Call ids a worker processed. */
const processedLog = () => new EventLog<string>('processed call.process job');

describe('Callwatch with ROLE=all', () => {
  let app: TestApp;
  const processed = processedLog();

  beforeAll(async () => {
    app = await startTestApp({}, { jobHandlers: recordingHandlers(processed) });
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('answers liveness and readiness', async () => {
    expect(await getJson(`${app.url}/health`)).toEqual({ status: 200, body: { status: 'ok' } });
    expect(await getJson(`${app.url}/ready`)).toEqual({
      status: 200,
      body: { ready: true, database: true, queue: true, version: expect.any(String) },
    });
  });

  it('serves GraphQL', async () => {
    const { status, data, errors } = await graphql(app.url, null, '{ health { ready database queue version } }');
    expect(status).toBe(200);
    expect(errors).toBeUndefined();
    expect(data).toEqual({ health: { ready: true, database: true, queue: true, version: expect.any(String) } });
  });

  it('answers an invalid GraphQL query with a GraphQL error, not a 500', async () => {
    // GraphQL over HTTP: with `accept: application/json` errors travel in a 200 response.
    const { status, data, errors } = await graphql(app.url, null, '{ health { nope } }');
    expect(status).toBe(200);
    expect(data).toBeUndefined();
    expect(errors?.[0]?.message).toMatch(/Cannot query field "nope"/);
  });

  it('exposes its counters for Prometheus', async () => {
    const response = await fetch(`${app.url}/metrics`);
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toContain('# TYPE callwatch_calls_started_total counter');
    expect(text).toMatch(/^callwatch_media_invalid_json_total 0$/m);
  });

  it('answers unknown paths with 404', async () => {
    expect((await fetch(`${app.url}/nowhere`)).status).toBe(404);
  });

  it('runs the workers', async () => {
    const callId = randomUUID();
    await app.services.queue.send('call.process', { callId });
    await processed.waitFor((id) => id === callId, 15_000);
  });
});

describe('Callwatch roles', () => {
  it('ROLE=api serves HTTP and leaves jobs to the workers', async () => {
    const processed = processedLog();
    const app = await startTestApp({ ROLE: 'api' }, { jobHandlers: recordingHandlers(processed) });
    try {
      expect((await fetch(`${app.url}/health`)).status).toBe(200);
      const callId = randomUUID();
      const jobId = await app.services.queue.send('call.process', { callId });
      expect(await app.services.queue.getJob('call.process', jobId!)).toMatchObject({ state: 'created' });
      // A worker instance on the same database, started after the job was sent, gets it: the
      // api instance, which had it first, did not claim it (a job is claimed once).
      const workerProcessed = processedLog();
      const worker = await startTestApp({ ROLE: 'worker', DATABASE_URL: app.database.url }, { jobHandlers: recordingHandlers(workerProcessed) });
      try {
        await workerProcessed.waitFor((id) => id === callId, 15_000);
      } finally {
        await worker.stop();
      }
      expect(processed.items).toEqual([]);
    } finally {
      await app.stop();
    }
  });

  it('ROLE=worker runs jobs and opens no HTTP port', async () => {
    const processed = processedLog();
    const app = await startTestApp({ ROLE: 'worker' }, { jobHandlers: recordingHandlers(processed) });
    try {
      expect(app.http).toBeUndefined();
      const callId = randomUUID();
      await app.services.queue.send('call.process', { callId });
      await processed.waitFor((id) => id === callId, 15_000);
    } finally {
      await app.stop();
    }
  });

  it('reports not ready once its queue has stopped', async () => {
    const app = await startTestApp();
    try {
      await app.services.queue.stop(0);
      expect(await getJson(`${app.url}/ready`)).toMatchObject({ status: 503, body: { ready: false, database: true, queue: false } });
      expect((await fetch(`${app.url}/health`)).status).toBe(200);
    } finally {
      await app.stop();
    }
  });
});
