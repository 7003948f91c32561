import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { startCallwatch, type Callwatch } from '../app.ts';
import { demoPhoneNumber, seedDemoBusiness } from '../cli/demo-data.ts';
import { loadConfig } from '../core/config.ts';
import { describeError } from '../core/errors.ts';
import { secretBoxOf } from '../core/secret-box.ts';
import { issueApiKey } from '../entities/api-key.repository.ts';
import { BusinessSettings } from '../entities/business-settings.entity.ts';
import { rotateWebhookSecret } from '../entities/webhook-secret.repository.ts';
import { playDemoCall, print, type DemoWorld } from './demo-call.ts';
import { playOutboundCall } from './demo-outbound.ts';
import { fixtureText, loadFixture } from './fixtures.ts';
import { startOpenAIApiStandIn } from './openai-api.server.ts';
import { startOpenAIRealtimeStandIn } from './openai-realtime.server.ts';
import { startTwilioApiStandIn } from './twilio-api.server.ts';
import { startWebhookReceiver } from './webhook-receiver.ts';

/**
 * `npm run demo`: Callwatch against local stand-ins for OpenAI and Twilio, playing whole
 * Hebrew calls — Sarah phones שיפוצי הגליל, the agent greets her by name, she asks for an
 * appointment, the agent answers, she hangs up — each followed by the post-call pipeline:
 * Twilio's recording callback, transcription, summary, extraction and the signed
 * `call.completed` webhook at a local CRM receiver that verifies it. Then the business calls
 * Sarah back (`scheduleOutboundCall`, `demo-outbound.ts`) and the CRM gets that call's
 * outbound webhook. No account anywhere.
 * Every socket and request is real; only the far ends are stand-ins on 127.0.0.1.
 *
 * By default it keeps placing calls, so a person can open the supervisor console at
 * `/monitor` and watch them live, until Ctrl-C closes everything; `--once` plays one call
 * at once and exits.
 */

const accountSid = `AC${'d'.repeat(32)}`;
const authToken = 'demo-twilio-auth-token';
const agentReply = 'בשמחה! באיזה יום נוח לך שנגיע לביקור הערכת מחיר?';
const usage = 'Usage: npm run demo -- [--once] [--delay <sec>] [--every <sec>]   (defaults: first call after 15 s, then one every 45 s, until Ctrl-C)';

interface DemoOptions {
  once: boolean;
  delayMs: number;
  everyMs: number;
}

/** The command line, or a message for the person who typed it. */
function parseOptions(args: string[]): DemoOptions | { error: string } {
  let values;
  try {
    ({ values } = parseArgs({ args, strict: true, allowPositionals: false, options: { once: { type: 'boolean' }, delay: { type: 'string' }, every: { type: 'string' } } }));
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
  const seconds = (name: string, value: string | undefined, fallback: number): number | string => {
    if (value === undefined) return fallback;
    const parsed = Number(value);
    return value.trim() !== '' && Number.isFinite(parsed) && parsed >= 0 ? parsed : `--${name} must be a number of seconds, 0 or more (got '${value}')`;
  };
  const delay = seconds('delay', values.delay, 15);
  const every = seconds('every', values.every, 45);
  if (typeof delay === 'string') return { error: delay };
  if (typeof every === 'string') return { error: every };
  return { once: values.once ?? false, delayMs: delay * 1000, everyMs: every * 1000 };
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  if ('error' in options) {
    process.stderr.write(`callwatch demo: ${options.error}\n${usage}\n`);
    process.exitCode = 2;
    return;
  }
  // The first Ctrl-C closes everything gracefully; the listeners are `once`, so a second one kills the process as usual.
  const stop = new AbortController();
  const onSignal = () => {
    print();
    print('Stopping: closing Callwatch and the stand-ins…');
    stop.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  print(usage);

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
  const pipelineAnswers: DemoWorld['pipelineAnswers'] = {
    transcribe: () => `${fixtureText('agent-greeting')}\n${fixtureText('caller-booking')}\n${agentReply}`,
    respond: (request) =>
      request.format.type === 'json_schema'
        ? { city: 'חיפה', service_category: 'שיפוץ מטבח', fields: { budget_ils: null, urgency: 'normal' } }
        : 'ד״ר שרה לוי מחיפה ביקשה לקבוע ביקור להערכת מחיר לשיפוץ מטבח; הסוכן שאל איזה יום נוח לה. יש לחזור אליה לתיאום.',
  };
  const openaiApi = await startOpenAIApiStandIn({ apiKey: 'sk-demo', ...pipelineAnswers });
  const crm = await startWebhookReceiver();
  let app: Callwatch | undefined;
  let callInProgress: Promise<void> | undefined;
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
    settings.outboundWebhookUrl = `${crm.url}/callwatch/outbound`;
    // The callback after each call goes out at once, whatever the day and hour the demo runs.
    settings.callingHours = Object.fromEntries(['0', '1', '2', '3', '4', '5', '6'].map((day) => [day, [{ open: '00:00', close: '24:00' }]]));
    settings.callOnHolidays = true;
    await em.flush();
    crm.setSecret((await rotateWebhookSecret(em, business.id, secretBoxOf(config))).secret);

    print(`Callwatch is running on ${publicUrl} (OpenAI and Twilio are local stand-ins)`);
    print(`  business: ${business.name}, answering ${demoPhoneNumber}`);
    print('  outbound: the demo lifts calling hours (every day 00:00–24:00, holidays too), so each call is followed by a callback');
    print(`  GraphQL:  ${publicUrl}/graphql`);
    print(`  Live:     ws://localhost:${port}/graphql (graphql-ws, connectionParams { apiKey }) — callEvents, callAudio, liveCalls`);
    print();
    print('═══ Supervisor console ═══════════════════════════════════════════');
    // An admin key: admin may do everything a supervisor may, so one key serves the console and the API.
    print(`  Console:  ${publicUrl}/monitor`);
    print(`  API key:  ${key}`);
    print('  Open the console in a browser and paste the API key to sign in.');
    print('══════════════════════════════════════════════════════════════════');
    print();

    const world: DemoWorld = { app, openai, openaiApi, pipelineAnswers, twilioApi, crm, publicUrl, accountSid, authToken, apiKey: key };
    const stopped = new Promise<void>((resolve) => stop.signal.addEventListener('abort', () => resolve(), { once: true }));
    for (let count = 1; !stop.signal.aborted; count++) {
      if (!options.once) {
        const waitMs = count === 1 ? options.delayMs : options.everyMs;
        if (count > 1) print(`Next call in ${waitMs / 1000} s (Ctrl-C to stop)`);
        else if (waitMs > 0) print(`First call in ${waitMs / 1000} s — open the console now (Ctrl-C to stop)`);
        if (!(await pause(waitMs, stop.signal))) break;
        if (count > 1 || waitMs > 0) print();
      }
      callInProgress = playDemoRound(world, stop.signal);
      // Ctrl-C mid-call does not wait for the call: the finally below closes what it waits on.
      await Promise.race([callInProgress, stopped]);
      if (stop.signal.aborted) break;
      callInProgress = undefined;
      if (options.once) break;
      print();
    }
  } finally {
    await app?.close();
    await openai.close();
    await twilioApi.close();
    await openaiApi.close();
    await crm.close();
    // An interrupted call fails once its stand-ins are gone; that is the stop, not an error. It has released its sockets once settled.
    await callInProgress?.catch((error: unknown) => {
      if (!stop.signal.aborted) throw error;
    });
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** Sarah's call, then the business calling her back. */
async function playDemoRound(world: DemoWorld, signal: AbortSignal): Promise<void> {
  await playDemoCall(world, signal);
  if (signal.aborted) return;
  print();
  await playOutboundCall(world, signal);
}

/** Waits `ms`; false when stopped first. */
async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch (error) {
    if (signal.aborted) return false;
    throw error;
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`callwatch demo: ${describeError(error)}\n`);
  process.exitCode = 1;
});
