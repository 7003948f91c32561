import { performance } from 'node:perf_hooks';
import type { OpenAIRealtimeStandIn, StandInSession } from '../../src/sandbox/openai-realtime.server.ts';
import { SimulatedCaller } from '../../src/sandbox/simulated-caller.ts';
import { twilioAccountSid } from '../../test/support/twilio.ts';

/** One call's greeting, timed on this process's clock (Callwatch, the stand-in and the caller share it). */
export interface GreetingTiming {
  /** Twilio's `start` sent → the first agent audio frame at the caller (Twilio). */
  startToAudioMs: number;
  /**
   * OpenAI's own share: from the first thing Callwatch sends it at `start` (`session.update`)
   * arriving, to its first audio delta sent — configuring the session and starting the
   * response, as the stand-in does them.
   */
  openaiMs: number;
}

/**
 * Times the greeting of one call whose stream has just connected: sends `start`, and
 * waits for the first agent audio frame Callwatch sends the caller. `session` is the OpenAI
 * session already opened for the call (pre-opened by the voice webhook), or undefined when
 * Callwatch opens it at `start` — then it is the next one the stand-in accepts.
 */
export async function timeGreeting(openai: OpenAIRealtimeStandIn, caller: SimulatedCaller, session: StandInSession | undefined): Promise<GreetingTiming> {
  const opened = session ? Promise.resolve(session) : openai.nextSession(10_000);
  const receivedBefore = session?.received.length ?? 0;
  const sentBefore = session?.sent.length ?? 0;
  const heardBefore = caller.events.length;
  const t0 = performance.now();
  caller.start();
  const ready = await opened;
  await caller.waitFor((message) => message.event === 'media', 10_000, { after: heardBefore });
  // Read the times each side logged as it happened (a promise resolves only after the
  // synchronous work around it, which would hide who spent it).
  const heardAt = caller.eventTimes[caller.events.findIndex((message, i) => i >= heardBefore && message.event === 'media')]!;
  const updateIndex = ready.received.findIndex((event, i) => i >= receivedBefore && event.type === 'session.update');
  const updatedIndex = ready.sent.findIndex((event, i) => i >= sentBefore && event.type === 'session.updated');
  const createIndex = ready.received.findIndex((event, i) => i >= receivedBefore && event.type === 'response.create');
  const deltaIndex = ready.sent.findIndex((event, i) => i >= sentBefore && event.type === 'response.output_audio.delta');
  // OpenAI's two turns: taking the configuration (session.update in → session.updated out),
  // then the greeting (response.create in → first delta out). Between them, Callwatch checks
  // the configuration and asks for the greeting: its share, not OpenAI's.
  const openaiMs =
    ready.times.sent[updatedIndex]! - ready.times.received[updateIndex]! + (ready.times.sent[deltaIndex]! - ready.times.received[createIndex]!);
  return { startToAudioMs: heardAt - t0, openaiMs: Math.max(0, openaiMs) };
}

/** A media stream to Callwatch as Twilio opens it, presenting the call's token. */
export function connectStream(mediaUrl: string, callSid: string, token: string): Promise<SimulatedCaller> {
  return SimulatedCaller.connect(mediaUrl, { callSid, accountSid: twilioAccountSid, customParameters: { token } });
}
