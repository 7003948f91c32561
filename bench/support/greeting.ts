import { performance } from 'node:perf_hooks';
import type { OpenAIRealtimeStandIn, StandInSession } from '../../src/sandbox/openai-realtime.server.ts';
import { SimulatedCaller } from '../../src/sandbox/simulated-caller.ts';
import { twilioAccountSid } from '../../test/support/twilio.ts';

/** One call's greeting, timed on this process's clock (Callwatch, the stand-in and the caller share it). */
export interface GreetingTiming {
  /** Twilio's `start` sent → the first agent audio frame at the caller (Twilio). */
  startToAudioMs: number;
  /** OpenAI's own share: `response.create` received → first audio delta sent, at the stand-in. */
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
  const firstAudio = caller.waitFor((message) => message.event === 'media', 10_000);
  const t0 = performance.now();
  caller.start();
  const ready = await opened;
  let askedAt = 0;
  const asked = ready.waitForReceived('response.create', 10_000).then(() => (askedAt = performance.now()));
  let spokeAt = 0;
  const spoke = ready.waitForSent('response.output_audio.delta', 10_000).then(() => (spokeAt = performance.now()));
  await firstAudio;
  const heardAt = performance.now();
  await Promise.all([asked, spoke]);
  return { startToAudioMs: heardAt - t0, openaiMs: Math.max(0, spokeAt - askedAt) };
}

/** A media stream to Callwatch as Twilio opens it, presenting the call's token. */
export function connectStream(mediaUrl: string, callSid: string, token: string): Promise<SimulatedCaller> {
  return SimulatedCaller.connect(mediaUrl, { callSid, accountSid: twilioAccountSid, customParameters: { token } });
}
