import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import type { Callwatch } from '../app.ts';
import { demoPhoneNumber } from '../cli/demo-data.ts';
import type { CallEvent } from '../core/events.ts';
import { Call } from '../entities/call.entity.ts';
import { loadFixture } from './fixtures.ts';
import { twilioSid } from './ids.ts';
import type { OpenAIApiStandIn, ResponseHandler, TranscriptionHandler } from './openai-api.server.ts';
import type { OpenAIRealtimeStandIn, StandInSession } from './openai-realtime.server.ts';
import { SimulatedCaller } from './simulated-caller.ts';
import type { RecordingState, TwilioApiStandIn } from './twilio-api.server.ts';
import { inboundCallParams, recordingCallbackParams, sendTwilioWebhook, streamOf } from './twilio-webhook.ts';
import { silentWavFile } from './wav.ts';
import type { ReceivedWebhook, WebhookReceiver } from './webhook-receiver.ts';

/** What `npm run demo` runs against: Callwatch, the stand-ins it talks to, and the demo's credentials. */
export interface DemoWorld {
  app: Callwatch;
  openai: OpenAIRealtimeStandIn;
  openaiApi: OpenAIApiStandIn;
  /** The post-call pipeline's OpenAI answers for Sarah's inbound call (the callback swaps in its own). */
  pipelineAnswers: { transcribe: TranscriptionHandler; respond: ResponseHandler };
  twilioApi: TwilioApiStandIn;
  crm: WebhookReceiver;
  publicUrl: string;
  accountSid: string;
  authToken: string;
  apiKey: string;
}

/**
 * How long Sarah stays on the line, silent, after the agent's reply. Shorter than the
 * business's silence timeout (8 s by default), so the agent never reprompts and every call
 * stores the same three turns.
 */
const lingerMs = 5_000;
const sarahPhone = '+972501234567';

export const print = (line = ''): void => void process.stdout.write(`${line}\n`);

/**
 * Plays one whole call with a fresh CallSid — Sarah phones, hears the greeting, asks for an
 * appointment, hears the reply, stays on a few seconds and hangs up — then the post-call
 * pipeline up to the CRM's verified `call.completed`, printing each step. Everything the
 * call waits on is looked up by its CallSid or its own stand-in session, so calls can
 * follow one another against the same stand-ins. When `signal` aborts, Sarah hangs up at
 * once; the waits still open reject when their owners close, and the call releases its
 * sockets and subscriptions on the way out.
 */
export async function playDemoCall(world: DemoWorld, signal: AbortSignal): Promise<void> {
  const { app, openai, twilioApi, publicUrl, accountSid, authToken, apiKey } = world;
  const callSid = twilioSid('CA');
  const twilio = { appUrl: publicUrl, publicUrl, authToken };
  print(`☎  Sarah (${sarahPhone}) calls ${demoPhoneNumber}`);
  // Twilio has the call from now on: its REST API answers for it (recording, hang-up).
  twilioApi.addCall({ sid: callSid, from: sarahPhone, to: demoPhoneNumber, direction: 'inbound', status: 'in-progress' });
  const response = await sendTwilioWebhook(twilio, '/twilio/voice', inboundCallParams({ accountSid, callSid, from: sarahPhone, to: demoPhoneNumber }));
  if (response.status !== 200) throw new Error(`the voice webhook answered ${response.status}: ${response.body}`);
  const streamToken = streamOf(response.body).token;
  print('   Twilio fetched the TwiML: <Connect><Stream> with a signed token');

  const call = await app.services.orm.em.fork().findOneOrFail(Call, { callSid });
  const events = app.services.bus.subscribe('call:events', call.id);
  // What a supervisor's console sees: the call's events and its audio over graphql-ws.
  const supervisorView = watchOverGraphQLWs(publicUrl, apiKey, call.id);
  const printing = (async () => {
    for await (const event of events) describeCallEvent(event);
  })();
  let caller: SimulatedCaller | undefined;
  const hangUp = () => caller?.stop();
  signal.addEventListener('abort', hangUp, { once: true });
  try {
    caller = await SimulatedCaller.connect(`${publicUrl.replace('http', 'ws')}/twilio/media`, { callSid, accountSid, customParameters: { token: streamToken } });
    twilioApi.attachStream(callSid, caller);
    if (signal.aborted) return;
    caller.start();
    // A new connection is a new session, and each session starts from the top of the script the stand-in was started with.
    const session = await openai.nextSession();
    await converse(caller, session, lingerMs, signal);

    const row = await waitForCompletion(app, callSid, signal);
    print();
    print(`✔  Call ${row.callSid}: ${row.status}, ${row.durationSec} s, ${row.transcriptTurns.length} turns stored`);
    print(`   Agent audio heard by the caller: ${(caller.heardMs() / 1000).toFixed(1)} s; caller audio at OpenAI: ${(session.inputAudioMs / 1000).toFixed(1)} s`);
    const recording = twilioApi.recordings.find((candidate) => candidate.callSid === callSid);
    print(`   Recording requested from Twilio: ${recording ? 'yes' : 'no'}`);
    if (!recording) throw new Error('Twilio was never asked to record the call');

    print();
    const delivery = await recordingDelivered(world, recording, row.durationSec ?? 1);
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
  } finally {
    signal.removeEventListener('abort', hangUp);
    await caller?.close();
    await events.return();
    await printing;
    await supervisorView.stop();
  }
}

/**
 * Sarah's side of a call once she is connected: she hears the agent's first words to
 * their end, says her sentence, hears the reply to its end, stays on `lingerMs` and hangs
 * up (the stream stops). OpenAI sends audio faster than it plays, so `response.done` comes
 * while she is still listening: she waits for her speaker, not for the response.
 */
export async function converse(caller: SimulatedCaller, session: StandInSession, lingerMs: number, signal: AbortSignal): Promise<void> {
  await session.waitForSent('response.done', 15_000);
  await heardToTheEnd(caller, signal);
  await caller.silence(600);
  await caller.play(loadFixture('caller-booking'));
  await caller.silence(700);
  await session.waitForSent('response.done', 30_000, { after: session.sent.findIndex((event) => event.type === 'response.done') + 1 });
  await heardToTheEnd(caller, signal);
  await caller.silence(lingerMs);
  signal.throwIfAborted();
  caller.stop();
  await caller.closed;
}

/** Resolves once the caller has heard all the agent audio she received (none of it was cleared). */
async function heardToTheEnd(caller: SimulatedCaller, signal: AbortSignal): Promise<void> {
  while (caller.heardMs() * 8 < caller.receivedAudio().length) await sleep(100, undefined, { signal });
}

/**
 * Twilio finishes `recording` (silent audio as long as the call) and sends its recording
 * callback: the post-call pipeline takes over. Resolves with the CRM's delivery for the call.
 */
export async function recordingDelivered(world: DemoWorld, recording: RecordingState, durationSec: number): Promise<ReceivedWebhook> {
  const { publicUrl, accountSid, authToken, crm } = world;
  Object.assign(recording, { status: 'completed', audio: silentWavFile(durationSec, { sampleRate: 8000, channels: 2 }), durationSec });
  print('⏺  Twilio: the recording is ready (recording status callback)');
  const params = recordingCallbackParams({ accountSid, callSid: recording.callSid, recordingSid: recording.sid, status: 'completed', durationSec, channels: 2 });
  await sendTwilioWebhook({ appUrl: publicUrl, publicUrl, authToken }, '/twilio/recording', params);
  return crm.waitForDelivery((candidate) => candidate.payload?.call_id === recording.callSid, 30_000);
}

/** A graphql-ws client with the demo key, subscribed to one call's events and audio. */
function watchOverGraphQLWs(publicUrl: string, apiKey: string, callId: string) {
  const client = createClient({ url: `${publicUrl.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: { apiKey }, retryAttempts: 0 });
  const counts = { events: 0, audio: 0 };
  const sink = (field: 'events' | 'audio') => ({ next: () => void (counts[field] += 1), error: () => {}, complete: () => {} });
  const stopEvents = client.subscribe({ query: 'subscription($id: ID!) { callEvents(callId: $id) { type } }', variables: { id: callId } }, sink('events'));
  const stopAudio = client.subscribe({ query: 'subscription($id: ID!) { callAudio(callId: $id) { seq } }', variables: { id: callId } }, sink('audio'));
  let stopping: Promise<typeof counts> | undefined;
  return {
    /** Unsubscribes and closes the client; later calls wait for the first. */
    stop() {
      stopping ??= (async () => {
        stopEvents();
        stopAudio();
        await client.dispose();
        return counts;
      })();
      return stopping;
    },
  };
}

/** Prints one call event as a step of the demo. */
export function describeCallEvent(event: CallEvent): void {
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

async function waitForCompletion(app: Callwatch, callSid: string, signal: AbortSignal) {
  for (let attempt = 0; attempt < 100; attempt++) {
    const row = await app.services.orm.em.fork().findOneOrFail(Call, { callSid });
    if (row.status === 'completed') return row;
    await sleep(100, undefined, { signal });
  }
  throw new Error('the call was never written');
}
