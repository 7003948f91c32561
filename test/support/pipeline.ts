import { randomBytes } from 'node:crypto';
import { secretBoxOf } from '../../src/core/secret-box.ts';
import { rotateWebhookSecret } from '../../src/entities/webhook-secret.repository.ts';
import { BusinessSettings } from '../../src/entities/business-settings.entity.ts';
import type { Call } from '../../src/entities/call.entity.ts';
import { sql, type Row } from '../../src/entities/sql.ts';
import { conversationWavFile } from '../../src/sandbox/conversation-audio.ts';
import { startOpenAIApiStandIn, type OpenAIApiStandIn } from '../../src/sandbox/openai-api.server.ts';
import { startTwilioApiStandIn, type TwilioApiStandIn } from '../../src/sandbox/twilio-api.server.ts';
import { recordingCallbackParams } from '../../src/sandbox/twilio-webhook.ts';
import { startWebhookReceiver, type ReceivedWebhook, type WebhookReceiver } from '../../src/sandbox/webhook-receiver.ts';
import { startTestApp, type TestApp } from './app.ts';
import { createBusiness, createCall, createLead } from './factories.ts';
import { callEnvironment, postTwilioWebhook, twilioAccountSid, twilioAuthToken } from './twilio.ts';

export interface PipelineHarness {
  app: TestApp;
  openai: OpenAIApiStandIn;
  twilioApi: TwilioApiStandIn;
  receiver: WebhookReceiver;
  businessId: string;
  leadId: string;
  /** The environment the app runs with (a worker process started by a test gets the same). */
  env: Record<string, string>;
  /**
   * A finished inbound call with a completed dual-channel recording at the Twilio stand-in:
   * `audio`, or by default 2 s in which the caller speaks once (one transcription request,
   * so the recording's transcript is `Caller: <the handler's text>`).
   */
  recordedCall(overrides?: Partial<Omit<Row<Call>, 'id' | 'business'>>, recording?: { audio?: Buffer }): Promise<{ call: Row<Call>; recordingSid: string }>;
  /**
   * Stores `recordingSid` on `call` as the recording callback would (SID and URL), and a
   * downloaded copy of its audio as the pipeline's download step would (`bytes` long).
   */
  storeRecording(call: Row<Call>, recordingSid: string, bytes?: number): Promise<void>;
  /** Twilio's recording status callback for `call`. */
  recordingCallback(call: Row<Call>, recordingSid: string, status?: 'completed' | 'absent' | 'failed'): Promise<number>;
  /** Deliveries the receiver got for `call` (by its SID). */
  deliveriesFor(call: Row<Call>): ReceivedWebhook[];
  stop(): Promise<void>;
}

/** 2 s of a dual-channel call in which the caller speaks from 0.5 s to 1.5 s. */
const defaultRecording = conversationWavFile([{ channel: 0, startSec: 0.5, lengthSec: 1, level: 8000 }], 2);

export const extractionSchema = [
  { name: 'budget_nis', description: 'The budget the caller mentioned, in shekels', type: 'number' as const },
  { name: 'urgent', description: 'Whether the caller said it is urgent', type: 'boolean' as const },
];

/**
 * Callwatch (api + workers) wired to the OpenAI REST, Twilio REST and webhook-receiver
 * stand-ins, with a business whose inbound webhook goes to the receiver (loopback
 * allow-listed, fast retries) and a known lead. `env` overrides the app's environment;
 * `workers: false` runs no job handlers in the app (a test starts its own worker).
 */
export async function startPipelineHarness(options: { env?: Record<string, string>; workers?: boolean } = {}): Promise<PipelineHarness> {
  const openai = await startOpenAIApiStandIn({ apiKey: 'sk-test-key' });
  const twilioApi = await startTwilioApiStandIn({ accountSid: twilioAccountSid, authToken: twilioAuthToken });
  const receiver = await startWebhookReceiver();
  const env = callEnvironment({
    OPENAI_BASE_URL: openai.url,
    // The stand-in answers the start-up model check as OpenAI would.
    OPENAI_CHECK_MODELS: 'true',
    TWILIO_API_URL: twilioApi.url,
    WEBHOOK_ALLOWED_NETWORKS: '127.0.0.0/8',
    WEBHOOK_RETRY_BASE_MS: '100',
    WORKER_POLL_INTERVAL_MS: '500',
    WEBHOOK_TIMEOUT_MS: '2000',
    // Shared with worker processes a test starts (h.env): they must open the webhook secret this app encrypted.
    APP_SECRET: randomBytes(32).toString('base64url'),
    ...options.env,
  });
  const app = await startTestApp(env, { startRecording: async () => {}, ...(options.workers === false ? { jobHandlers: {} } : {}) });
  const em = app.services.orm.em;
  const business = await createBusiness(em, { phone: '+97233824155', name: 'אינסטלציה גולן' });
  const lead = await createLead(em, business, { phone: '+972501112233', fullName: 'מיכל כהן', firstName: 'מיכל', gender: 'female' });
  const fork = em.fork();
  const settings = await fork.findOneOrFail(BusinessSettings, { business: business.id });
  settings.inboundWebhookUrl = `${receiver.url}/callwatch`;
  settings.extractionSchema = extractionSchema;
  await fork.flush();
  // The secret as an admin gets it (rotateWebhookSecret): stored sealed with the app's APP_SECRET.
  receiver.setSecret((await rotateWebhookSecret(fork, business.id, secretBoxOf(app.services.config))).secret);

  return {
    app,
    openai,
    twilioApi,
    receiver,
    businessId: business.id,
    leadId: lead.id,
    env: { ...env, DATABASE_URL: app.database.url },
    async recordedCall(overrides = {}, { audio = defaultRecording } = {}) {
      const startedAt = new Date('2026-11-22T08:00:00Z');
      const call = await createCall(em, business.id, {
        lead: lead.id,
        fromNumber: lead.phone,
        toNumber: '+97233824155',
        startedAt,
        endedAt: new Date(startedAt.getTime() + 95_000),
        durationSec: 95,
        transcriptTurns: [
          { speaker: 'agent', text: 'שלום מיכל, ברוכה הבאה לאינסטלציה גולן. במה אפשר לעזור?', at: startedAt.toISOString() },
          { speaker: 'caller', text: 'יש לי נזילה בתל אביב, זה דחוף', at: new Date(startedAt.getTime() + 4000).toISOString() },
        ],
        ...overrides,
      });
      twilioApi.addCall({ sid: call.callSid, from: call.fromNumber, to: call.toNumber, status: 'completed' });
      const recording = twilioApi.addRecording({ callSid: call.callSid, channels: 2, audio });
      return { call, recordingSid: recording.sid };
    },
    async storeRecording(call, recordingSid, bytes = 12) {
      const recordingUrl = `${twilioApi.url}/2010-04-01/Accounts/${twilioApi.accountSid}/Recordings/${recordingSid}`;
      await sql(em.fork()).updateTable('Call').set({ recordingSid, recordingUrl }).where('id', '=', call.id).execute();
      await sql(em.fork()).insertInto('CallRecording').values({ call: call.id, contentType: 'audio/x-wav', audio: Buffer.alloc(bytes) }).execute();
    },
    async recordingCallback(call, recordingSid, status = 'completed') {
      const params = recordingCallbackParams({ accountSid: twilioAccountSid, callSid: call.callSid, recordingSid, status, durationSec: 2, channels: 2 });
      return (await postTwilioWebhook(app.url, '/twilio/recording', params)).status;
    },
    deliveriesFor(call) {
      return receiver.deliveries.filter((delivery) => delivery.payload?.call_id === call.callSid);
    },
    async stop() {
      await app.stop();
      await Promise.all([openai.close(), twilioApi.close(), receiver.close()]);
    },
  };
}
