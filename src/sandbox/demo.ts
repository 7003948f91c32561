import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { startCallwatch, type Callwatch } from '../app.ts';
import { demoPhoneNumber, seedDemoBusiness } from '../cli/demo-data.ts';
import { loadConfig } from '../core/config.ts';
import { describeError } from '../core/errors.ts';
import type { CallEvent } from '../core/events.ts';
import { issueApiKey } from '../entities/api-key.repository.ts';
import { Call } from '../entities/call.entity.ts';
import { BusinessSettings } from '../entities/business-settings.entity.ts';
import { fixtureText, loadFixture } from './fixtures.ts';
import { startOpenAIApiStandIn } from './openai-api.server.ts';
import { startOpenAIRealtimeStandIn, type OpenAIRealtimeStandIn } from './openai-realtime.server.ts';
import { SimulatedCaller } from './simulated-caller.ts';
import { startTwilioApiStandIn, type TwilioApiStandIn } from './twilio-api.server.ts';
import { inboundCallParams, recordingCallbackParams, sendTwilioWebhook, streamOf } from './twilio-webhook.ts';
import { silentWavFile } from './wav.ts';
import { startWebhookReceiver, type WebhookReceiver } from './webhook-receiver.ts';

/**
 * `npm run demo`: Callwatch against local stand-ins for OpenAI and Twilio, playing one whole
 * Hebrew call — Sarah phones שיפוצי הגליל, the agent greets her by name, she asks for an
 * appointment, the agent answers, she hangs up — then the post-call pipeline: Twilio's
 * recording callback, transcription, summary, extraction and the signed `call.completed`
 * webhook at a local CRM receiver that verifies it. No account anywhere. Every socket and
 * request is real; only the far ends are stand-ins on 127.0.0.1.
 */

const accountSid = `AC${'d'.repeat(32)}`;
const authToken = 'demo-twilio-auth-token';
const sarah = { phone: '+972501234567', callSid: `CA${Date.now().toString(16).padStart(32, '0')}` };
const agentReply = 'בשמחה! באיזה יום נוח לך שנגיע לביקור הערכת מחיר?';

const print = (line = ''): void => void process.stdout.write(`${line}\n`);

async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? 3000);
  const openai = await startOpenAIRealtimeStandIn({
    apiKey: 'sk-demo',
    pace: 'realtime',
    script: {
      replies: [{ text: fixtureText('agent-greeting'), audio: loadFixture('agent-greeting') }, { text: agentReply }],
      callerTranscripts: [fixtureText('caller-booking')],
    },
  });
  const twilioApi = await startTwilioApiStandIn({ accountSid, authToken });
  // The post-call pipeline's OpenAI requests, answered as the real models would answer this call.
  const openaiApi = await startOpenAIApiStandIn({
    apiKey: 'sk-demo',
    transcribe: () => `${fixtureText('agent-greeting')}\n${fixtureText('caller-booking')}\n${agentReply}`,
    respond: (request) =>
      request.format.type === 'json_schema'
        ? { city: 'חיפה', service_category: 'שיפוץ מטבח', fields: { budget_ils: null, urgency: 'normal' } }
        : 'ד״ר שרה לוי מחיפה ביקשה לקבוע ביקור להערכת מחיר לשיפוץ מטבח; הסוכן שאל איזה יום נוח לה. יש לחזור אליה לתיאום.',
  });
  const crm = await startWebhookReceiver();
  let app: Callwatch | undefined;
  try {
    const publicUrl = `http://localhost:${port}`;
    const config = loadConfig({
      ...process.env,
      PORT: String(port),
      PUBLIC_URL: publicUrl,
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      OPENAI_API_KEY: 'sk-demo',
      OPENAI_REALTIME_URL: openai.url,
      TWILIO_ACCOUNT_SID: accountSid,
      TWILIO_AUTH_TOKEN: authToken,
      TWILIO_API_URL: twilioApi.url,
      OPENAI_BASE_URL: openaiApi.url,
      // The demo's CRM receiver listens on loopback, which webhooks may not reach by default.
      WEBHOOK_ALLOWED_NETWORKS: '127.0.0.0/8',
    });
    app = await startCallwatch(config);
    const em = app.services.orm.em.fork();
    const business = await seedDemoBusiness(em);
    const { key } = await issueApiKey(em, { businessId: business.id, role: 'admin', name: 'npm run demo' });
    const settings = await em.findOneOrFail(BusinessSettings, { business: business.id });
    settings.inboundWebhookUrl = `${crm.url}/callwatch`;
    await em.flush();
    crm.setSecret(settings.webhookSecret);

    print(`Callwatch is running on ${publicUrl} (OpenAI and Twilio are local stand-ins)`);
    print(`  business: ${business.name}, answering ${demoPhoneNumber}`);
    print(`  GraphQL:  ${publicUrl}/graphql   admin API key: ${key}`);
    print(`  Live:     ws://localhost:${port}/graphql (graphql-ws, connectionParams { apiKey }) — callEvents, callAudio, liveCalls`);
    print();
    await playCall(app, openai, twilioApi, crm, publicUrl, authToken, key);
  } finally {
    await app?.close();
    await openai.close();
    await twilioApi.close();
    await openaiApi.close();
    await crm.close();
  }
}

async function playCall(app: Callwatch, openai: OpenAIRealtimeStandIn, twilioApi: TwilioApiStandIn, crm: WebhookReceiver, publicUrl: string, token: string, apiKey: string): Promise<void> {
  print(`☎  Sarah (${sarah.phone}) calls ${demoPhoneNumber}`);
  const response = await sendTwilioWebhook(
    { appUrl: publicUrl, publicUrl, authToken: token },
    '/twilio/voice',
    inboundCallParams({ accountSid, callSid: sarah.callSid, from: sarah.phone, to: demoPhoneNumber }),
  );
  if (response.status !== 200) throw new Error(`the voice webhook answered ${response.status}: ${response.body}`);
  const streamToken = streamOf(response.body).token;
  print('   Twilio fetched the TwiML: <Connect><Stream> with a signed token');

  const call = await app.services.orm.em.fork().findOneOrFail(Call, { callSid: sarah.callSid });
  const events = app.services.bus.subscribe('call:events', call.id);
  // What a supervisor's console sees: the call's events and its audio over graphql-ws.
  const supervisorView = watchOverGraphQLWs(publicUrl, apiKey, call.id);
  const printing = (async () => {
    for await (const event of events) describe(event);
  })();

  const caller = await SimulatedCaller.connect(`${publicUrl.replace('http', 'ws')}/twilio/media`, {
    callSid: sarah.callSid,
    accountSid,
    customParameters: { token: streamToken },
  });
  caller.start();
  const session = await openai.nextSession();
  await session.waitForSent('response.done', 15_000);
  await caller.silence(600);
  await caller.play(loadFixture('caller-booking'));
  await caller.silence(700);
  await session.waitForSent('response.done', 30_000, { after: session.sent.findIndex((event) => event.type === 'response.done') + 1 });
  // Let Sarah hear the end of the reply before she hangs up.
  while (caller.heardMs() * 8 < caller.receivedAudio().length) await new Promise((resolve) => setTimeout(resolve, 100));
  caller.stop();
  await caller.closed;

  const row = await waitForCompletion(app, sarah.callSid);
  print();
  print(`✔  Call ${row.callSid}: ${row.status}, ${row.durationSec} s, ${row.transcriptTurns.length} turns stored`);
  print(`   Agent audio heard by the caller: ${(caller.heardMs() / 1000).toFixed(1)} s; caller audio at OpenAI: ${(session.inputAudioMs / 1000).toFixed(1)} s`);
  print(`   Recording requested from Twilio: ${twilioApi.recordings.length > 0 ? 'yes' : 'no'}`);

  // Twilio finishes the recording and calls back: the post-call pipeline takes over.
  const recording = twilioApi.recordings.find((candidate) => candidate.callSid === sarah.callSid);
  if (!recording) throw new Error('Twilio was never asked to record the call');
  Object.assign(recording, { status: 'completed', audio: silentWavFile(row.durationSec ?? 1, { sampleRate: 8000, channels: 2 }), durationSec: row.durationSec ?? 1 });
  print();
  print('⏺  Twilio: the recording is ready (recording status callback)');
  await sendTwilioWebhook({ appUrl: publicUrl, publicUrl, authToken: token }, '/twilio/recording', recordingCallbackParams({ accountSid, callSid: sarah.callSid, recordingSid: recording.sid, status: 'completed', durationSec: row.durationSec ?? 1, channels: 2 }));
  const delivery = await crm.waitForDelivery((candidate) => candidate.payload?.call_id === sarah.callSid, 30_000);
  await events.return();
  await printing;
  const payload = delivery.payload ?? {};
  print(`📨 CRM received call.completed (webhook-id ${delivery.webhookId}), signature ${delivery.verified ? 'verified ✔' : 'INVALID ✘'}`);
  print(`   city: ${String(payload.city)} · service: ${String(payload.service_category)} · ${String(payload.duration_sec)} s`);
  print(`   fields: ${JSON.stringify(payload.extracted)}`);
  print(`   summary: ${String(payload.summary)}`);
  const watched = await supervisorView.stop();
  print();
  print(`👀 Supervisor over graphql-ws: ${watched.events} call events, ${watched.audio} audio chunks (caller and agent) received live`);
}

/** A graphql-ws client with the demo key, subscribed to one call's events and audio. */
function watchOverGraphQLWs(publicUrl: string, apiKey: string, callId: string) {
  const client = createClient({ url: `${publicUrl.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: { apiKey }, retryAttempts: 0 });
  const counts = { events: 0, audio: 0 };
  const sink = (field: 'events' | 'audio') => ({ next: () => void (counts[field] += 1), error: () => {}, complete: () => {} });
  const stopEvents = client.subscribe({ query: 'subscription($id: ID!) { callEvents(callId: $id) { type } }', variables: { id: callId } }, sink('events'));
  const stopAudio = client.subscribe({ query: 'subscription($id: ID!) { callAudio(callId: $id) { seq } }', variables: { id: callId } }, sink('audio'));
  return {
    async stop() {
      stopEvents();
      stopAudio();
      await client.dispose();
      return counts;
    },
  };
}

function describe(event: CallEvent): void {
  switch (event.type) {
    case 'call.started':
      return print('   ▶ call started — the agent speaks first');
    case 'transcript.turn':
      return print(`   ${event.turn.speaker === 'agent' ? '🤖 agent ' : '👤 caller'}: ${event.turn.text}`);
    case 'agent.interrupted':
      return print(`   ✋ caller interrupted the agent after ${event.heardMs} ms`);
    case 'call.ended':
      return print(`   ■ call ended (${event.reason})`);
    case 'pipeline.step':
      return print(`   ⚙ ${event.step}: ${event.outcome}${event.error ? ` — ${event.error}` : ''}`);
    case 'webhook.attempt':
      return print(`   ↗ webhook ${event.status} (${event.statusCode ?? event.error ?? 'no answer'})`);
    default:
      return;
  }
}

async function waitForCompletion(app: Callwatch, callSid: string) {
  for (let attempt = 0; attempt < 100; attempt++) {
    const row = await app.services.orm.em.fork().findOneOrFail(Call, { callSid });
    if (row.status === 'completed') return row;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('the call was never written');
}

main().catch((error: unknown) => {
  process.stderr.write(`callwatch demo: ${describeError(error)}\n`);
  process.exitCode = 1;
});
