import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as pause } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { EntityManager } from '@mikro-orm/postgresql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueApiKey } from '../../src/entities/api-key.repository.ts';
import { BusinessSettings } from '../../src/entities/business-settings.entity.ts';
import { sql } from '../../src/entities/sql.ts';
import { startTwilioApiStandIn, type CallState, type TwilioApiStandIn } from '../../src/sandbox/twilio-api.server.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import { eventually } from '../support/calls.ts';
import { createBusiness, createLead } from '../support/factories.ts';
import { graphql } from '../support/graphql.ts';
import { settledJobs } from '../support/jobs.ts';
import { callEnvironment, publicUrl, twilioAccountSid, twilioAuthToken } from '../support/twilio.ts';

/**
 * The dialer's limits as a business sees them: never more of its calls on the line than
 * it allows, however many worker processes dial; calls leave no faster than the global
 * pace; and a canceled campaign places no further call and hangs up the one in progress. Twilio is
 * the REST stand-in, which places each call and reports it back to the app.
 */

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const everyDay = Object.fromEntries(['0', '1', '2', '3', '4', '5', '6'].map((day) => [day, [{ open: '00:00', close: '24:00' }]]));
const finalStatuses = new Set<CallState['status']>(['completed', 'busy', 'failed', 'no-answer', 'canceled']);
const createCallRequest = /^\/2010-04-01\/Accounts\/AC[0-9a-f]{32}\/Calls\.json$/;

/** A business that may call at any hour of any day, with the given outbound limits, and a supervisor's key. */
async function callingBusiness(em: EntityManager, limits: { maxConcurrent: number; maxAttempts: number }): Promise<{ businessId: string; key: string }> {
  const business = await createBusiness(em);
  await em.fork().nativeUpdate(BusinessSettings, { business: business.id }, {
    callingHours: everyDay,
    callOnHolidays: true,
    outboundMaxAttempts: limits.maxAttempts,
    outboundRetrySpacingSec: 60,
    outboundMaxConcurrent: limits.maxConcurrent,
  });
  const { key } = await issueApiKey(em.fork(), { businessId: business.id, role: 'supervisor', name: 'supervisor' });
  return { businessId: business.id, key };
}

async function createCampaignFor(url: string, key: string, leadIds: string[]): Promise<string> {
  const { data, errors } = await graphql(url, key, `mutation ($input: CreateCampaignInput!) {
    createCampaign(input: $input) { __typename ... on Campaign { id } ... on Error { message } }
  }`, { input: { name: 'Winter check-up', purpose: 'Offer a boiler check-up before winter', leadIds } });
  expect(errors).toBeUndefined();
  expect(data?.createCampaign.__typename, JSON.stringify(data)).toBe('Campaign');
  return data!.createCampaign.id as string;
}

/**
 * A campaign of `size` fresh leads of a business with `limits`, every call of which ends
 * with `outcome` at the stand-in; created through GraphQL.
 */
async function campaignCalling(
  app: TestApp,
  twilioApi: TwilioApiStandIn,
  options: { size: number; outcome: 'answer' | 'no-answer'; maxConcurrent: number; maxAttempts: number },
) {
  const em = app.services.orm.em.fork();
  const { businessId, key } = await callingBusiness(em, options);
  const leads = [];
  for (let i = 0; i < options.size; i += 1) leads.push(await createLead(em, { id: businessId }));
  for (const lead of leads) twilioApi.outcomeFor(lead.phone, options.outcome);
  const campaignId = await createCampaignFor(app.url, key, leads.map((lead) => lead.id));
  return { em, key, leads, campaignId };
}

interface JobView { status: string; attempts: number; lastOutcome: string | null; lastCallSid: string | null }

async function campaignJobs(url: string, key: string, id: string): Promise<JobView[]> {
  const { data, errors } = await graphql(url, key, `query ($id: ID!) {
    campaign(id: $id) { jobs { status attempts lastOutcome lastCallSid } }
  }`, { id });
  expect(errors).toBeUndefined();
  return data!.campaign.jobs as JobView[];
}

/**
 * The most calls of `calls` up at one instant, from creation to final status as the
 * stand-in saw them. A call ends before the next one can start on its line (the line is
 * freed only once the final status is back), so at equal timestamps ends count first.
 */
function mostAtOnce(calls: CallState[]): number {
  const edges = calls.flatMap((call) => [
    { at: call.createdAt.getTime(), delta: 1 },
    { at: (call.endedAt ?? new Date(8.64e15)).getTime(), delta: -1 },
  ]);
  edges.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let up = 0;
  let most = 0;
  for (const edge of edges) {
    up += edge.delta;
    most = Math.max(most, up);
  }
  return most;
}

describe('outbound limits across two worker processes', () => {
  let twilioApi: TwilioApiStandIn;
  let app: TestApp;
  const workers: ChildProcess[] = [];

  const env = (apiUrl: string) =>
    callEnvironment({ TWILIO_API_URL: apiUrl, OUTBOUND_CALLS_PER_SECOND: '50', WORKER_POLL_INTERVAL_MS: '500' });

  beforeAll(async () => {
    twilioApi = await startTwilioApiStandIn({ accountSid: twilioAccountSid, authToken: twilioAuthToken, ringMs: 300 });
    // The app here only answers Twilio's callbacks; the two worker processes dial.
    app = await startTestApp(env(twilioApi.url), { jobHandlers: {} });
    twilioApi.routeOrigin(publicUrl, app.url);
    for (let i = 0; i < 2; i += 1) {
      workers.push(
        spawn(process.execPath, ['src/main.ts'], {
          cwd: repoRoot,
          env: {
            ...env(twilioApi.url),
            PATH: process.env.PATH ?? '',
            DATABASE_URL: app.database.url,
            ROLE: 'worker',
            WORKER_CONCURRENCY: '8',
            NODE_ENV: 'test',
            LOG_LEVEL: 'silent',
            MIGRATE_ON_START: 'false',
          },
          stdio: ['ignore', 'ignore', 'inherit'],
        }),
      );
    }
  });
  afterAll(async () => {
    const running = workers.filter((worker) => worker.exitCode === null && worker.signalCode === null);
    await Promise.all(running.map((worker) => new Promise((resolve) => {
      worker.once('close', resolve);
      worker.kill('SIGKILL');
    })));
    await twilioApi?.close();
    await app?.stop();
  });

  it('never has more than the business’s line limit on the phone, and places each call once', { timeout: 150_000 }, async () => {
    const { key, campaignId } = await campaignCalling(app, twilioApi, { size: 50, outcome: 'no-answer', maxConcurrent: 3, maxAttempts: 1 });
    // Looked at every 250 ms: the app and the stand-in share this process, and a busy event
    // loop here would blur the call times the stand-in records.
    const jobs = await eventually(
      async () => (await pause(250), campaignJobs(app.url, key, campaignId)),
      (list) => list.every((job) => job.status === 'NO_ANSWER'),
      'every job to ring out',
      130_000,
    );

    expect(jobs).toHaveLength(50);
    expect(jobs.every((job) => job.attempts === 1 && job.lastOutcome === 'NO_ANSWER')).toBe(true);
    const creates = twilioApi.requests.filter((request) => request.method === 'POST' && createCallRequest.test(request.path));
    expect(creates).toHaveLength(50);
    expect(new Set(twilioApi.placedCalls.map((call) => call.to)).size).toBe(50);
    expect(new Set(jobs.map((job) => job.lastCallSid)).size).toBe(50);

    const calls = twilioApi.placedCalls.map((placed) => twilioApi.calls.get(placed.sid)!);
    expect(calls.every((call) => finalStatuses.has(call.status))).toBe(true);
    const most = mostAtOnce(calls);
    expect(most).toBeLessThanOrEqual(3);
    expect(most).toBe(3);
  });
});

describe('one app dialing: cancel and the global pace', () => {
  let twilioApi: TwilioApiStandIn;
  let app: TestApp;

  beforeAll(async () => {
    twilioApi = await startTwilioApiStandIn({ accountSid: twilioAccountSid, authToken: twilioAuthToken, ringMs: 100 });
    app = await startTestApp(callEnvironment({ TWILIO_API_URL: twilioApi.url, OUTBOUND_CALLS_PER_SECOND: '5', WORKER_POLL_INTERVAL_MS: '500' }));
    twilioApi.routeOrigin(publicUrl, app.url);
  });
  afterAll(async () => {
    await twilioApi?.close();
    await app?.stop();
  });

  it('hangs up the call in progress and places no further call', { timeout: 60_000 }, async () => {
    // Every lead picks up; nobody joins the media stream, so the call stays in progress.
    const { em, key, campaignId } = await campaignCalling(app, twilioApi, { size: 6, outcome: 'answer', maxConcurrent: 1, maxAttempts: 3 });
    const jobs = await eventually(
      () => campaignJobs(app.url, key, campaignId),
      (list) => list.some((job) => job.status === 'IN_PROGRESS'),
      'a call in progress',
      20_000,
    );
    const live = jobs.find((job) => job.status === 'IN_PROGRESS')!;
    expect(live.lastCallSid).toMatch(/^CA/);
    expect(twilioApi.calls.get(live.lastCallSid!)?.status).toBe('in-progress');

    const { data, errors } = await graphql(app.url, key, `mutation ($id: ID!) {
      cancelCampaign(id: $id) { __typename ... on Campaign { status } ... on Error { message } }
    }`, { id: campaignId });
    expect(errors).toBeUndefined();
    expect(data?.cancelCampaign).toEqual({ __typename: 'Campaign', status: 'CANCELED' });

    const hangUp = await twilioApi.waitForRequest(
      (request) => request.method === 'POST' && request.path.endsWith(`/Calls/${live.lastCallSid}.json`) && request.params.Status !== undefined,
      10_000,
    );
    expect(hangUp.params.Status).toBe('completed');
    expect(hangUp.status).toBe(200);
    await twilioApi.waitForCallback((callback) => callback.callSid === live.lastCallSid && callback.params.CallStatus === 'completed', 10_000);

    const createsAtCancel = twilioApi.requests.filter((request) => request.method === 'POST' && createCallRequest.test(request.path)).length;
    expect(createsAtCancel).toBe(1);
    // The freed line starts the business's next due job at once: none is left to start.
    const jobIds = (await sql(em).selectFrom('OutboundCallJob').select('id').where('campaign', '=', campaignId).execute()).map((row) => row.id);
    await settledJobs(em, { name: 'outbound.dial', field: 'outboundJobId', values: jobIds }, { name: 'outbound.hangup', field: 'callSid', values: [live.lastCallSid!] });
    const after = await campaignJobs(app.url, key, campaignId);
    expect(after.map((job) => job.status)).toEqual(Array(6).fill('CANCELED'));
    expect(twilioApi.requests.filter((request) => request.method === 'POST' && createCallRequest.test(request.path))).toHaveLength(createsAtCancel);
    expect(twilioApi.calls.get(live.lastCallSid!)?.status).toBe('completed');
    const rows = await sql(em).selectFrom('OutboundCallJob').select('status').where('campaign', '=', campaignId).execute();
    expect(rows.every((row) => row.status === 'canceled')).toBe(true);
  });

  it('places calls no faster than OUTBOUND_CALLS_PER_SECOND, even with lines to spare', { timeout: 30_000 }, async () => {
    const { key, leads, campaignId } = await campaignCalling(app, twilioApi, { size: 8, outcome: 'no-answer', maxConcurrent: 20, maxAttempts: 1 });
    await eventually(() => campaignJobs(app.url, key, campaignId), (list) => list.every((job) => job.status === 'NO_ANSWER'), 'every job to ring out', 20_000);

    // 5 a second: one slot every 200 ms, whichever worker slot dials.
    const numbers = new Set(leads.map((lead) => lead.phone));
    const starts = twilioApi.requests
      .filter((request) => request.method === 'POST' && createCallRequest.test(request.path) && numbers.has(String(request.params.To)))
      .map((request) => request.at.getTime());
    expect(starts).toHaveLength(8);
    const gaps = starts.slice(1).map((at, i) => at - starts[i]!);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(150);
    expect(starts.at(-1)! - starts[0]!).toBeGreaterThanOrEqual(7 * 190);
  });
});
