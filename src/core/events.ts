import { getEventListeners, setMaxListeners } from 'node:events';
import { createPubSub, type PubSub } from '@graphql-yoga/subscription';

/**
 * The typed event bus. Call sessions and workers publish here; GraphQL subscriptions and
 * supervisor commands read from here. Every payload is plain JSON so the in-process event
 * target can later be swapped for Redis without touching publishers.
 *
 * Topics are keyed by tenant or call, so a subscriber only ever sees what it is scoped to:
 * `business:calls` (lifecycle of a business's calls) by business id, `call:events` (all
 * of one call's events) by call id. Publishing is synchronous and never waits for a
 * subscriber: the audio path may publish.
 */

export type CallDirection = 'inbound' | 'outbound';
export const speakers = ['caller', 'agent'] as const;
export type Speaker = (typeof speakers)[number];

/** One utterance as the realtime session heard or spoke it. */
export interface TranscriptTurn {
  speaker: Speaker;
  text: string;
  /** ISO time the turn started. */
  at: string;
  /** Agent turn cut short by the caller. */
  interrupted?: boolean;
  /** Caller turn whose transcription failed: it happened, its words are unknown (text `[inaudible]`). */
  inaudible?: boolean;
}

export type CallLifecycleEvent =
  | { type: 'call.started'; callId: string; callSid: string; direction: CallDirection; at: string }
  | { type: 'call.status'; callId: string; callSid: string; status: string; at: string }
  /** `status`: how the call ended for Callwatch — failed when the voice agent was lost or a transfer failed. */
  | { type: 'call.ended'; callId: string; callSid: string; durationSec: number | null; reason: string; status: 'completed' | 'failed'; at: string };

export type CallEvent =
  | CallLifecycleEvent
  | { type: 'transcript.delta'; callId: string; speaker: Speaker; itemId: string; delta: string; at: string }
  | { type: 'transcript.turn'; callId: string; itemId: string; turn: TranscriptTurn }
  | { type: 'speech.started'; callId: string; at: string }
  | { type: 'speech.stopped'; callId: string; at: string }
  | { type: 'agent.interrupted'; callId: string; itemId: string; heardMs: number; at: string }
  | AgentEvent
  | PipelineEvent;

/**
 * What the agent did during a call beyond talking: tools, the silence watchdog, key presses
 * it was told of, hand-overs and failures. These are also the call's stored timeline (Call.timeline).
 */
export type AgentEvent =
  | { type: 'tool.called'; callId: string; toolCallId: string; name: string; arguments: string; at: string }
  | { type: 'tool.result'; callId: string; toolCallId: string; name: string; output: Record<string, unknown>; failed: boolean; at: string }
  | { type: 'lead.captured'; callId: string; fields: { name?: string; city?: string; service?: string; notes?: string[] }; at: string }
  | { type: 'watchdog.reprompt'; callId: string; attempt: number; at: string }
  /** The caller pressed a key on their phone (DTMF): 0–9, *, #, or A–D. */
  | { type: 'key.pressed'; callId: string; digit: string; at: string }
  | { type: 'call.closing'; callId: string; reason: 'silence' | 'max-duration' | 'shutdown' | 'agent' | 'failure'; at: string }
  | { type: 'call.transfer'; callId: string; to: string | null; reason: string; ok: boolean; error: string | null; at: string }
  | { type: 'agent.failure'; callId: string; problem: string; recovered: boolean; at: string }
  | { type: 'supervisor.action'; callId: string; action: SupervisorCommand['action']; detail: string | null; apiKeyId: string; acted: boolean; error: string | null; at: string };

/**
 * A supervisor's command for a live call. It travels on the bus to whichever instance holds
 * the call (`call:commands`); that instance answers on `call:command-results` by `requestId`.
 */
export type SupervisorCommand = { requestId: string; apiKeyId: string } & (
  | { action: 'whisper'; text: string }
  | { action: 'transfer'; to: string }
  | { action: 'hangup' }
);

/**
 * Twilio's answering-machine detection found a machine on a live call (`/twilio/amd`). Like a
 * supervisor's command it goes to whichever instance holds the call (`call:commands`), which
 * leaves `voicemail` after the beep, or hangs up, ends the session with its own reason, and
 * answers on `call:command-results` by `requestId`.
 */
export interface AnsweringMachineCommand {
  requestId: string;
  action: 'answering-machine';
  /** AMD's verdict: `machine_start`, `machine_end_beep`, `fax`, … */
  answeredBy: string;
  /** What to say after the beep, in the business's language; null: hang up. */
  voicemail: { text: string; language: string } | null;
}

/** What the instance holding a call is asked to do to it. */
export type CallCommand = SupervisorCommand | AnsweringMachineCommand;

/** 20 ms of one side of a call: μ-law 8 kHz, base64, numbered per track in order. */
export interface AudioChunk {
  track: 'caller' | 'agent';
  seq: number;
  payload: string;
}

export interface SupervisorCommandResult {
  acted: boolean;
  error: string | null;
  /**
   * Set when the command's input was refused rather than failed — a transfer to a number
   * the business may not dial — saying why; the API answers with a ValidationError.
   */
  refused?: string;
}

/** Events that make up a call's stored timeline. */
export const timelineEventTypes: ReadonlySet<CallEvent['type']> = new Set([
  'call.started',
  'agent.interrupted',
  'tool.called',
  'tool.result',
  'lead.captured',
  'watchdog.reprompt',
  'key.pressed',
  'call.closing',
  'call.transfer',
  'agent.failure',
  'supervisor.action',
  'call.ended',
]);

/** Post-call pipeline progress (the `callUpdated` subscription). */
export type PipelineEvent =
  | { type: 'pipeline.step'; callId: string; step: string; outcome: 'done' | 'skipped' | 'failed'; error: string | null; at: string }
  | { type: 'pipeline.finished'; callId: string; status: 'completed' | 'failed'; at: string }
  | {
      type: 'webhook.attempt';
      callId: string;
      deliveryId: string;
      /** The delivery's status after this attempt: pending means another attempt is scheduled. */
      status: 'pending' | 'delivered' | 'failed' | 'dead';
      statusCode: number | null;
      error: string | null;
      at: string;
    };

/**
 * An outbound call job moved: dialing, answered, retry scheduled, finished, canceled. The
 * job's fields as they now are, so a console can show progress without a query.
 */
export interface OutboundJobEvent {
  type: 'outbound.updated';
  jobId: string;
  campaignId: string | null;
  status: string;
  attempts: number;
  /** When the next attempt is due (status queued). */
  scheduledAt: string;
  lastOutcome: string | null;
  lastError: string | null;
  callSid: string | null;
  at: string;
}

export type BusEvents = {
  'business:calls': [businessId: string, event: CallLifecycleEvent];
  /** Progress of the business's outbound call jobs. */
  'business:outbound': [businessId: string, event: OutboundJobEvent];
  'call:events': [callId: string, event: CallEvent];
  'call:commands': [callId: string, command: CallCommand];
  /** Listen-in audio of a call, published only while someone listens (`call:listeners`). */
  'call:audio': [callId: string, chunk: AudioChunk];
  /**
   * A listen-in subscriber is listening, or has left. Said again when the call goes live, so
   * a call that was not live yet when someone started listening learns of them; the call
   * keeps a set, so saying it twice counts once.
   */
  'call:listeners': [callId: string, change: { listenerId: string; listening: boolean }];
  'call:command-results': [requestId: string, result: SupervisorCommandResult];
  /** A business's settings or numbers changed: every instance reloads its routing cache entry. */
  'business:routing': [event: { businessId: string }];
  /** An API key was revoked: every instance ends the sockets and streams it holds open. */
  'api-key:revoked': [event: { apiKeyId: string }];
};

export interface EventBus extends PubSub<BusEvents> {
  /**
   * Whether what is published now reaches every instance. Always true in-process; false
   * while Redis is unreachable, when published events are dropped (and counted).
   */
  available: () => boolean;
  /**
   * How many subscribers on this instance listen to a topic now (`'call:events', callId`):
   * what a test waits for before publishing, instead of sleeping. Read from the listeners
   * the bus already keeps; publishing costs nothing more. Over Redis it says nothing of
   * whether Redis has confirmed the SUBSCRIBE yet (ask Redis: PUBSUB NUMSUB).
   */
  listenerCount: (routingKey: keyof BusEvents, id?: string) => number;
}

/** The event type (Redis channel) of a topic, as graphql-yoga's createPubSub names it. */
export function busTopic(routingKey: keyof BusEvents, id?: string): string {
  return id === undefined ? routingKey : `${routingKey}:${id}`;
}

/** An in-process bus. */
export function createEventBus(): EventBus {
  // One listener per subscriber on a topic: hundreds watching one call is normal, not a leak.
  const eventTarget = new EventTarget();
  setMaxListeners(0, eventTarget);
  return Object.assign(createPubSub<BusEvents>({ eventTarget: eventTarget as never }), {
    available: () => true,
    // Node reads an EventTarget's listeners for us: nothing to count on subscribe or publish.
    listenerCount: (routingKey: keyof BusEvents, id?: string) => getEventListeners(eventTarget, busTopic(routingKey, id)).length,
  });
}
