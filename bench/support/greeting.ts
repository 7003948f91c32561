import { performance } from 'node:perf_hooks';
import type { OpenAIRealtimeStandIn, StandInSession } from '../../src/sandbox/openai-realtime.server.ts';
import { SimulatedCaller } from '../../src/sandbox/simulated-caller.ts';
import { twilioAccountSid } from '../../test/support/twilio.ts';

/** One call's greeting, timed on this process's clock (Callwatch, the stand-in and the caller share it). */
export interface GreetingTiming {
  /** Twilio's `start` sent → the first agent audio frame at the caller (Twilio). */
  startToAudioMs: number;
  /**
   * OpenAI's own share, on the stand-in's clock: its two turns — `session.update` in →
   * `session.updated` out, and `response.create` in → first audio delta out (which holds its
   * time to first audio) — plus, when the session opened at `start`, the delay it takes to
   * accept a connection (`connectDelayMs`).
   */
  openaiMs: number;
  /**
   * Callwatch's own share: startToAudioMs − openaiMs. What is left is Callwatch's work
   * between the stand-in's events (parsing `start`, the token, the context, opening the
   * socket when not pre-opened, checking the configuration, asking for the greeting,
   * relaying the first delta) and the loopback hops between the three parties.
   */
  callwatchMs: number;
}

/** The stand-in's realistic delays for one greeting. */
export interface GreetingDelays {
  /** How long the stand-in takes to accept a connection (set on the stand-in by the caller; counted as OpenAI's when the session opens at `start`). */
  connectDelayMs: number;
  /** OpenAI's time to first audio: `response.created` → first audio delta (set on the session here). */
  firstAudioDelayMs: number;
}

/**
 * Times the greeting of one call whose stream has just connected: sends `start`, and
 * waits for the first agent audio frame Callwatch sends the caller. `session` is the OpenAI
 * session already opened for the call (pre-opened by the voice webhook), or undefined when
 * Callwatch opens it at `start` — then it is the next one the stand-in accepts.
 */
export async function timeGreeting(openai: OpenAIRealtimeStandIn, caller: SimulatedCaller, session: StandInSession | undefined, delays: GreetingDelays): Promise<GreetingTiming> {
  const opened = session ? Promise.resolve(session) : openai.nextSession(10_000);
  const receivedBefore = session?.received.length ?? 0;
  const sentBefore = session?.sent.length ?? 0;
  const heardBefore = caller.events.length;
  const t0 = performance.now();
  caller.start();
  const ready = await opened;
  // Set before Callwatch can ask for the greeting: that takes it a round trip (session.update → session.updated) still to come.
  ready.delayFirstAudio(delays.firstAudioDelayMs);
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
  const firstAudioMs = ready.times.sent[deltaIndex]! - ready.times.received[createIndex]!;
  // A timer may fire a fraction of a millisecond early on this clock; a whole one early means the delay was set too late.
  if (firstAudioMs < delays.firstAudioDelayMs - 1) throw new Error(`the greeting's first audio came ${firstAudioMs.toFixed(1)} ms after response.create, before the stand-in's delay of ${delays.firstAudioDelayMs} ms`);
  const openaiMs = ready.times.sent[updatedIndex]! - ready.times.received[updateIndex]! + firstAudioMs + (session ? 0 : delays.connectDelayMs);
  const startToAudioMs = heardAt - t0;
  return { startToAudioMs, openaiMs, callwatchMs: startToAudioMs - openaiMs };
}

/** A media stream to Callwatch as Twilio opens it, presenting the call's token. */
export function connectStream(mediaUrl: string, callSid: string, token: string): Promise<SimulatedCaller> {
  return SimulatedCaller.connect(mediaUrl, { callSid, accountSid: twilioAccountSid, customParameters: { token } });
}
