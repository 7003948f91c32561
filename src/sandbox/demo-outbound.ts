import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { Call } from '../entities/call.entity.ts';
import { Lead } from '../entities/lead.entity.ts';
import { converse, describeCallEvent, print, recordingDelivered, type DemoWorld } from './demo-call.ts';
import type { ResponseHandler, TranscriptionHandler } from './openai-api.server.ts';
import { SimulatedCaller } from './simulated-caller.ts';
import { streamOf } from './twilio-webhook.ts';

/** Why the business calls Sarah back; the agent opens with it. */
export const callbackPurpose = 'לאשר את ביקור הערכת המחיר';
const sarahPhone = '+972501234567';
const agentGreeting = 'שלום שרה, מדברים משיפוצי הגליל. אני מתקשרת לאשר את ביקור הערכת המחיר מחר — זה עדיין מתאים לך?';
const sarahAnswer = 'כן, מחר מתאים לי. תודה!';
const agentGoodbye = 'מצוין, נתראה מחר. יום טוב!';

/** The post-call pipeline's OpenAI answers for the callback, as the real models would answer it. */
export const outboundPipelineAnswers: { transcribe: TranscriptionHandler; respond: ResponseHandler } = {
  transcribe: () => `${agentGreeting}\n${sarahAnswer}\n${agentGoodbye}`,
  respond: (request) =>
    request.format.type === 'json_schema'
      ? { city: 'חיפה', service_category: 'שיפוץ מטבח', fields: { budget_ils: null, urgency: 'normal' } }
      : 'הסוכן התקשר לד״ר שרה לוי לאשר את ביקור הערכת המחיר מחר; היא אישרה שהמועד מתאים.',
};

const finalStatuses = new Set(['COMPLETED', 'NO_ANSWER', 'BUSY', 'FAILED', 'CANCELED']);

interface JobUpdate {
  id: string;
  status: string;
  attempts: number;
  lastCallSid: string | null;
}

/**
 * The business calls Sarah back: schedules the call through GraphQL `scheduleOutboundCall`,
 * the dialer places it at the Twilio stand-in, Sarah picks up (a SimulatedCaller on the
 * call's stream), hears the agent open with the reason, answers, and hangs up through
 * Twilio; then the recording callback, the pipeline and the CRM's verified outbound
 * webhook — printing each step and every status the job goes through. When `signal`
 * aborts, Sarah hangs up at once and the waits reject as their owners close.
 */
export async function playOutboundCall(world: DemoWorld, signal: AbortSignal): Promise<void> {
  const { app, openai, openaiApi, twilioApi, publicUrl, accountSid, apiKey } = world;
  print(`📞 Callwatch calls Sarah back (${callbackPurpose})`);
  const sarah = await app.services.orm.em.fork().findOneOrFail(Lead, { phone: sarahPhone });
  const jobs = watchJobs(publicUrl, apiKey);
  let caller: SimulatedCaller | undefined;
  let events: ReturnType<typeof app.services.bus.subscribe<'call:events'>> | undefined;
  let printing: Promise<void> | undefined;
  const hangUp = () => caller?.stop();
  signal.addEventListener('abort', hangUp, { once: true });
  openaiApi.handle(outboundPipelineAnswers);
  try {
    const jobId = await scheduleCall(publicUrl, apiKey, sarah.id);
    jobs.follow(jobId);
    const placed = await until(() => twilioApi.placedCalls.find((call) => String(call.params.Url).includes(`outboundJob=${jobId}`)), signal, 'the call at Twilio');
    const callSid = placed.sid;
    print(`   Twilio dials ${placed.to} (${callSid})`);
    const twiml = await twilioApi.waitForVoiceTwiml(callSid, 15_000);
    print('   Sarah picks up: Twilio fetched the voice URL, <Connect><Stream> with a signed token');

    const call = await until(() => app.services.orm.em.fork().findOne(Call, { callSid }), signal, 'the call row');
    const subscribed = app.services.bus.subscribe('call:events', call.id);
    events = subscribed;
    printing = (async () => {
      for await (const event of subscribed) describeCallEvent(event);
    })();
    // Asked for before the stream connects, so the session is scripted before the agent's first response.
    const nextSession = openai.nextSession(15_000);
    // Awaited below; should the demo stop before that, its rejection is not an unhandled one.
    nextSession.catch(() => {});
    caller = await SimulatedCaller.connect(`${publicUrl.replace('http', 'ws')}/twilio/media`, { callSid, accountSid, customParameters: { token: streamOf(twiml).token } });
    twilioApi.attachStream(callSid, caller);
    if (signal.aborted) return;
    caller.start();
    const session = await nextSession;
    session.script({ replies: [{ text: agentGreeting }, { text: agentGoodbye }], callerTranscripts: [sarahAnswer] });
    // The booking fixture is the only caller audio at hand; the stand-in's transcript says what she answers here.
    await converse(caller, session, 500, signal);
    // Sarah hangs up: Twilio stops the stream and reports the call completed.
    await twilioApi.hangUp(callSid);
    const done = await until(async () => {
      const row = await app.services.orm.em.fork().findOneOrFail(Call, { callSid });
      return row.status === 'completed' ? row : null;
    }, signal, 'the call to complete');
    await jobs.settled(signal);
    print();
    print(`✔  Outbound call ${callSid}: ${done.status}, ${done.durationSec} s, ${done.transcriptTurns.length} turns stored`);

    const recording = twilioApi.recordings.find((candidate) => candidate.callSid === callSid);
    if (!recording) throw new Error('Twilio was never asked to record the outbound call');
    const delivery = await recordingDelivered(world, recording, done.durationSec ?? 1);
    await subscribed.return(undefined);
    await printing;
    const payload = delivery.payload ?? {};
    print(`📨 CRM received call.completed (webhook-id ${delivery.webhookId}), direction: ${String(payload.direction)}, signature ${delivery.verified ? 'verified ✔' : 'INVALID ✘'}`);
    print(`   summary: ${String(payload.summary)}`);
  } finally {
    signal.removeEventListener('abort', hangUp);
    openaiApi.handle(world.pipelineAnswers);
    await caller?.close();
    await events?.return(undefined);
    await printing;
    await jobs.stop();
  }
}

/** Schedules the callback now through GraphQL, as a CRM would; the job's id. */
async function scheduleCall(publicUrl: string, apiKey: string, leadId: string): Promise<string> {
  const response = await fetch(`${publicUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
    body: JSON.stringify({
      query: 'mutation($input: ScheduleOutboundCallInput!) { scheduleOutboundCall(input: $input) { __typename ... on OutboundCallJob { id status } ... on Error { message } } }',
      variables: { input: { leadId, purpose: callbackPurpose } },
    }),
  });
  const body = (await response.json()) as { data?: { scheduleOutboundCall?: { __typename: string; id?: string; status?: string; message?: string } }; errors?: { message: string }[] };
  const result = body.data?.scheduleOutboundCall;
  if (!result?.id) throw new Error(`scheduleOutboundCall failed: ${result?.message ?? JSON.stringify(body.errors ?? body)}`);
  print(`   job ${result.id}: ${result.status}`);
  return result.id;
}

/**
 * A graphql-ws client with the demo key on `outboundCallJobUpdated`, printing each new status
 * of the followed job.
 */
function watchJobs(publicUrl: string, apiKey: string) {
  const client = createClient({ url: `${publicUrl.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: { apiKey }, retryAttempts: 0 });
  let followed: string | undefined;
  const statuses: string[] = ['QUEUED'];
  const early: JobUpdate[] = [];
  const take = (job: JobUpdate) => {
    if (job.status === statuses.at(-1)) return;
    statuses.push(job.status);
    print(`   job ${job.id}: ${job.status} (attempt ${job.attempts})`);
  };
  const unsubscribe = client.subscribe<{ outboundCallJobUpdated: JobUpdate }>(
    { query: 'subscription { outboundCallJobUpdated { id status attempts lastCallSid } }' },
    {
      next: ({ data }) => {
        const job = data?.outboundCallJobUpdated;
        if (!job) return;
        if (followed === undefined) early.push(job);
        else if (job.id === followed) take(job);
      },
      error: (error: unknown) => print(`   (job updates stopped: ${error instanceof Error ? error.message : String(error)})`),
      complete: () => {},
    },
  );
  let stopping: Promise<void> | undefined;
  return {
    /** Prints the updates of `jobId`, those that came before it was known included. */
    follow(jobId: string) {
      followed = jobId;
      for (const job of early.splice(0)) if (job.id === jobId) take(job);
    },
    /**
     * Waits up to 10 s for the followed job's final status to be printed, so it comes before
     * the call's summary line; the call itself has already completed, so a late update is no failure.
     */
    async settled(signal: AbortSignal) {
      for (let waited = 0; waited < 10_000 && !finalStatuses.has(statuses.at(-1) ?? ''); waited += 100) {
        await sleep(100, undefined, { signal });
      }
    },
    stop() {
      stopping ??= (async () => {
        unsubscribe();
        await client.dispose();
      })();
      return stopping;
    },
  };
}

/** Polls `look` every 100 ms until it gives a value; throws after 30 s or when stopped. */
async function until<T>(look: () => T | null | undefined | Promise<T | null | undefined>, signal: AbortSignal, what: string): Promise<T> {
  for (let attempt = 0; attempt < 300; attempt++) {
    const value = await look();
    if (value !== null && value !== undefined) return value;
    await sleep(100, undefined, { signal });
  }
  throw new Error(`timed out waiting for ${what}`);
}
