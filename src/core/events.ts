import { createPubSub, type PubSub } from '@graphql-yoga/subscription';

/**
 * The typed event bus. Call sessions and workers publish here; GraphQL subscriptions and
 * supervisor commands read from here. Every payload is plain JSON so the in-process event
 * target can later be swapped for Redis without touching publishers.
 *
 * Topics are keyed by tenant or call, so a subscriber only ever sees the business it is
 * scoped to: `business:calls` by business id, `call:events` by call id.
 */

export type CallDirection = 'inbound' | 'outbound';

export type CallLifecycleEvent =
  | { type: 'call.started'; callId: string; callSid: string; direction: CallDirection; at: string }
  | { type: 'call.status'; callId: string; callSid: string; status: string; at: string }
  | { type: 'call.ended'; callId: string; callSid: string; durationSec: number | null; at: string };

export type BusEvents = {
  'business:calls': [businessId: string, event: CallLifecycleEvent];
  'call:events': [callId: string, event: CallLifecycleEvent];
};

export type EventBus = PubSub<BusEvents>;

/** An in-process bus. Publishing is synchronous and never waits for subscribers. */
export function createEventBus(): EventBus {
  return createPubSub<BusEvents>();
}
