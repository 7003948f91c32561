import { afterAll, beforeAll } from 'vitest';
import { busTopic, type BusEvents, type EventBus } from '../../src/core/events.ts';
import { secretBoxOf } from '../../src/core/secret-box.ts';
import { rotateWebhookSecret } from '../../src/entities/webhook-secret.repository.ts';
import { BusinessSettings } from '../../src/entities/business-settings.entity.ts';
import { Call } from '../../src/entities/call.entity.ts';
import type { Business } from '../../src/entities/business.entity.ts';
import type { Lead } from '../../src/entities/lead.entity.ts';
import { startOpenAIApiStandIn, type OpenAIApiStandIn } from '../../src/sandbox/openai-api.server.ts';
import { startOpenAIRealtimeStandIn, type OpenAIRealtimeStandIn, type Pace, type StandInSession } from '../../src/sandbox/openai-realtime.server.ts';
import { SimulatedCaller } from '../../src/sandbox/simulated-caller.ts';
import { startTwilioApiStandIn, type TwilioApiStandIn } from '../../src/sandbox/twilio-api.server.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../../src/sandbox/webhook-receiver.ts';
import type { StartOptions } from '../../src/app.ts';
import { isHousekeeping, startTestApp, type TestApp } from './app.ts';
import { createBusiness, createLead } from './factories.ts';
import { callEnvironment, inboundCallParams, postTwilioWebhook, publicUrl, streamOf, twilioAccountSid, twilioAuthToken } from './twilio.ts';

export const businessNumber = '+97233824100';
export const sarahsNumber = '+972501234567';

export interface CallHarness {
  app: TestApp;
  openai: OpenAIRealtimeStandIn;
  twilioApi: TwilioApiStandIn;
  business: Business;
  sarah: Lead;
  /** With `pipeline: true`: the post-call pipeline's OpenAI REST stand-in and the business's CRM. */
  pipeline?: { openaiApi: OpenAIApiStandIn; receiver: WebhookReceiver };
  /** Every SQL statement Callwatch's ORM sent, in order. */
  statements: string[];
  /** Calls "Twilio" received get Twilio's final status callback at /twilio/status (`statusCallback: true`). */
  statusCallback: boolean;
  stop: () => Promise<void>;
}

/**
 * Callwatch wired to the OpenAI Realtime and Twilio REST stand-ins, with a business
 * (שיפוצי הגליל) and a known caller (ד״ר שרה לוי, female). Every statement is logged.
 * `pipeline: true` also runs the post-call pipeline, against an OpenAI REST stand-in and a
 * CRM receiver; otherwise no job runs — the pipeline has tests of its own
 * (pipeline*.test.ts), and here its statements and events would mix with the call's.
 */
export async function startCallHarness(
  options: { pace?: Pace; recordCalls?: boolean; env?: Record<string, string>; pipeline?: boolean; preopenTtlMs?: number; statusCallback?: boolean; spanExporter?: StartOptions['spanExporter'] } = {},
): Promise<CallHarness> {
  const openai = await startOpenAIRealtimeStandIn({ apiKey: 'sk-test-key', pace: options.pace ?? 'instant' });
  const twilioApi = await startTwilioApiStandIn({ accountSid: twilioAccountSid, authToken: twilioAuthToken });
  const pipeline = options.pipeline ? { openaiApi: await startOpenAIApiStandIn({ apiKey: 'sk-test-key' }), receiver: await startWebhookReceiver() } : undefined;
  const statements: string[] = [];
  const pipelineEnv: Record<string, string> = pipeline ? { OPENAI_BASE_URL: pipeline.openaiApi.url, OPENAI_CHECK_MODELS: 'true', WEBHOOK_ALLOWED_NETWORKS: '127.0.0.0/8', WORKER_POLL_INTERVAL_MS: '500' } : {};
  const app = await startTestApp(callEnvironment({ OPENAI_REALTIME_URL: openai.url, TWILIO_API_URL: twilioApi.url, ...pipelineEnv, ...options.env }), {
    onStatement: (sql) => isHousekeeping(sql) || statements.push(sql),
    preopenTtlMs: options.preopenTtlMs,
    spanExporter: options.spanExporter,
    ...(pipeline ? {} : { jobHandlers: {} }),
  });
  // Twilio's callbacks (a recording's status) are signed for PUBLIC_URL and reach the app where it listens.
  twilioApi.routeOrigin(publicUrl, app.url);
  const business = await createBusiness(app.services.orm.em, { phone: businessNumber, name: 'שיפוצי הגליל' });
  const sarah = await createLead(app.services.orm.em, business, { phone: sarahsNumber, fullName: 'ד״ר שרה לוי', firstName: 'שרה', gender: 'female' });
  const em = app.services.orm.em.fork();
  const settings = await em.findOneOrFail(BusinessSettings, { business: business.id });
  settings.recordCalls = options.recordCalls ?? false;
  if (pipeline) settings.inboundWebhookUrl = `${pipeline.receiver.url}/callwatch`;
  await em.flush();
  // The secret as an admin gets it (rotateWebhookSecret): stored sealed with the app's APP_SECRET.
  if (pipeline) pipeline.receiver.setSecret((await rotateWebhookSecret(em, business.id, secretBoxOf(app.services.config))).secret);
  return {
    statusCallback: options.statusCallback ?? false,
    app,
    openai,
    twilioApi,
    business,
    sarah,
    pipeline,
    statements,
    async stop() {
      await app.stop();
      await openai.close();
      await twilioApi.close();
      await pipeline?.openaiApi.close();
      await pipeline?.receiver.close();
    },
  };
}

export interface PlacedCall {
  caller: SimulatedCaller;
  /** The OpenAI session Callwatch opened for this call (the voice webhook pre-opens it). */
  session: StandInSession;
  callSid: string;
  token: string;
}

/**
 * What Twilio does when someone dials the business: the signed voice webhook, then the
 * media stream the TwiML asks for. Returns once the call context has been pre-warmed, so
 * the caller's `start` finds it ready (the normal case in production).
 */
export async function placeCall(harness: CallHarness, callSid: string, from = sarahsNumber): Promise<PlacedCall> {
  // The voice webhook opens the call's OpenAI session while "Twilio" connects the stream.
  const sessionsBefore = harness.openai.sessions.length;
  const { token } = await answerCall(harness, callSid, from);
  const caller = await connectCaller(harness, callSid, token);
  await eventually(() => harness.openai.sessions.length, (n) => n > sessionsBefore, 'the OpenAI socket of the call');
  const session = harness.openai.sessions[sessionsBefore]!;
  return { caller, session, callSid, token };
}

/**
 * The signed voice webhook alone — Twilio received the call, so its REST API knows it from
 * now on (in progress) — returns the stream token once the context is pre-warmed.
 */
export async function answerCall(harness: CallHarness, callSid: string, from = sarahsNumber): Promise<{ token: string }> {
  const before = harness.statements.length;
  if (!harness.twilioApi.calls.has(callSid)) {
    const statusCallback = harness.statusCallback ? `${publicUrl}/twilio/status` : null;
    harness.twilioApi.addCall({ sid: callSid, from, to: businessNumber, direction: 'inbound', status: 'in-progress', statusCallback });
  }
  const params = inboundCallParams({ accountSid: twilioAccountSid, callSid, from, to: businessNumber });
  const response = await postTwilioWebhook(harness.app.url, '/twilio/voice', params);
  if (response.status !== 200) throw new Error(`voice webhook answered ${response.status}: ${response.body}`);
  const { token } = streamOf(response.body);
  await prewarmed(harness, before);
  return { token };
}

/**
 * Opens a media stream to Callwatch as Twilio would, presenting `token`. The Twilio
 * stand-in knows it as the call's stream: a REST hang-up or redirect stops it, as Twilio's does.
 */
export async function connectCaller(harness: CallHarness, callSid: string, token: string): Promise<SimulatedCaller> {
  const caller = await SimulatedCaller.connect(`${harness.app.url.replace('http', 'ws')}/twilio/media`, {
    callSid,
    accountSid: twilioAccountSid,
    customParameters: { token },
  });
  harness.twilioApi.attachStream(callSid, caller);
  return caller;
}

/** The tables an inbound call's context is read from when it is pre-warmed (fetchCallRows), one batched loader read each. */
const prewarmReads = ['calls', 'businesses', 'business_settings', 'leads', 'appointments', 'phone_numbers'].map(
  (table) => [table, new RegExp(`from "${table}"(?: as "\\w+")? where .* in \\(`)] as const,
);

/** Waits until every batched read of the pre-warm (`… from "<table>" … where … in (…)`) has gone out. */
async function prewarmed(harness: CallHarness, before: number): Promise<void> {
  const missing = () => prewarmReads.filter(([, read]) => !harness.statements.slice(before).some((sql) => read.test(sql))).map(([table]) => table);
  await eventually(missing, (tables) => tables.length === 0, 'the call context to be pre-warmed (tables not read yet)', 5_000);
}

/** Polls `read` until `accept` holds; returns the accepted value. */
export async function eventually<T>(read: () => Promise<T> | T, accept: (value: T) => boolean, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (accept(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * Waits until at least `count` subscribers listen to a bus topic (`'call:events', callId`) on
 * `bus`: a GraphQL subscription has reached the bus, so what is published from now on reaches it.
 */
export async function busListeners(bus: EventBus, routingKey: keyof BusEvents, id: string | undefined, count = 1): Promise<void> {
  await eventually(() => bus.listenerCount(routingKey, id), (n) => n >= count, `${count} listener(s) on ${busTopic(routingKey, id)}`);
}

/** Settings the agent's behaviour depends on, set for the next call (defaults: no transfer number, long timers). */
export async function agentSettings(
  harness: CallHarness,
  changes: Partial<Pick<BusinessSettings, 'transferNumber' | 'silenceTimeoutSec' | 'silenceReprompts' | 'maxCallDurationSec'>> = {},
): Promise<void> {
  const em = harness.app.services.orm.em.fork();
  const row = await em.findOneOrFail(BusinessSettings, { business: harness.business.id });
  Object.assign(row, { transferNumber: null, silenceTimeoutSec: 60, silenceReprompts: 2, maxCallDurationSec: 900, ...changes });
  await em.flush();
}

/**
 * Gives the calling describe block a call harness with the agent's `settings` (see
 * `agentSettings`) and the harness's `options`, started before its tests and stopped after
 * them. Read it inside tests.
 */
export function useCallHarness(settings: Parameters<typeof agentSettings>[1] = {}, options: Parameters<typeof startCallHarness>[0] = {}): CallHarness {
  const harness = {} as CallHarness;
  beforeAll(async () => {
    Object.assign(harness, await startCallHarness(options));
    await agentSettings(harness, settings);
  });
  afterAll(() => harness.stop?.());
  return harness;
}

/** The call row once the session has written it (its end reason set). */
export function endedCall(harness: CallHarness, callSid: string, timeoutMs = 20_000) {
  return eventually(() => harness.app.services.orm.em.fork().findOneOrFail(Call, { callSid }), (row) => row.endReason !== null && row.endReason !== undefined, 'the call to end', timeoutMs);
}
