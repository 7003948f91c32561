import { randomUUID } from 'node:crypto';
import { GraphQLError } from 'graphql';
import { Repeater } from 'graphql-yoga';
import type { AudioChunk, CallEvent, CallLifecycleEvent } from '../core/events.ts';
import { sql, type Row } from '../entities/sql.ts';
import type { Call } from '../entities/call.entity.ts';
import { liveCallStatuses } from '../entities/call-record.ts';
import { builder } from './builder.ts';
import { CallEventPayload } from './call-event-types.ts';
import { businessIdOf, ownRow, type GraphQLContext } from './context.ts';
import { CallRef, OutboundCallJobRef } from './refs.ts';
import { visibleEvent } from './supervisor-visibility.ts';

/**
 * Live monitoring (issue 7, first part): a business's calls as they happen, over graphql-ws
 * on /graphql (API key in `connectionParams`) or SSE (the Authorization header). Every
 * subscription is scoped to the key's business: a call id of another business is "not
 * found", exactly like a query for it.
 */

/** One event of a live call, as published on the bus (`src/core/events.ts`). */
const CallEventRef = builder.objectRef<CallEvent>('CallEvent').implement({
  description: 'One thing that happened on a call: transcript deltas and turns, speech started/stopped, the agent interrupted, tool calls and results, captured lead fields, reprompts, the caller’s key presses, hand-overs, failures, status changes, post-call pipeline progress.',
  fields: (t) => ({
    type: t.exposeString('type', { description: 'What happened, e.g. transcript.delta, transcript.turn, tool.called, pipeline.step.' }),
    callId: t.exposeID('callId', { description: 'The call it happened on.' }),
    at: t.field({ type: 'DateTime', description: 'When it happened.', resolve: (event) => new Date('at' in event ? event.at : event.turn.at) }),
    data: t.field({
      type: 'JSON',
      deprecationReason: 'Use `event`, the same event typed.',
      description: 'The whole event, as published (its fields depend on `type`). For viewer keys a `supervisor.action` has no whisper text (`detail`) and no `apiKeyId` (null).',
      resolve: (event, _args, ctx) => visibleEvent(ctx, event),
    }),
    event: t.field({
      type: CallEventPayload,
      description: 'The event typed by its kind (`... on TranscriptTurnEvent { speaker text }`). For viewer keys a SupervisorActionEvent has no whisper text and no apiKeyId (null).',
      resolve: (event, _args, ctx) => visibleEvent(ctx, event),
    }),
  }),
});

const AudioTrack = builder.enumType('AudioTrack', { description: 'Which side of the call a chunk carries.', values: { CALLER: { value: 'caller', description: 'What the caller says.' }, AGENT: { value: 'agent', description: 'What the agent says.' } } as const });

const AudioChunkRef = builder.objectRef<AudioChunk>('AudioChunk').implement({
  description: '20 ms of one side of a call.',
  fields: (t) => ({
    track: t.expose('track', { type: AudioTrack, description: 'Which side.' }),
    seq: t.exposeInt('seq', { description: 'Increases by one per chunk of the track; a gap means chunks were dropped for this subscriber.' }),
    payload: t.exposeString('payload', { description: 'G.711 μ-law, 8 kHz, mono, base64.' }),
  }),
});

/** A change to the list of a business's live calls. */
const LiveCallEventRef = builder.objectRef<{ event: CallLifecycleEvent | { type: 'call.live'; callId: string; callSid: string; at: string }; call: Row<Call> | null }>('LiveCallEvent').implement({
  description: 'A call of the business started, changed status or ended. On subscribing, one `call.live` event per call already in progress comes first, so a console never starts blank.',
  fields: (t) => ({
    type: t.string({ description: 'One of call.live (already in progress when you subscribed), call.started, call.status, call.ended.', resolve: ({ event }) => event.type }),
    callId: t.id({ description: 'The call’s id.', resolve: ({ event }) => event.callId }),
    callSid: t.string({ description: 'Twilio’s call SID.', resolve: ({ event }) => event.callSid }),
    at: t.field({ type: 'DateTime', description: 'When it happened; for call.live, when the call started.', resolve: ({ event }) => new Date(event.at) }),
    status: t.string({
      nullable: true,
      description: 'call.status: Twilio’s status of the call; call.ended: how it ended — completed, or failed (the voice agent was lost, or a transfer failed). Null for the others.',
      resolve: ({ event }) => ('status' in event ? event.status : null),
    }),
    endReason: t.string({
      nullable: true,
      description: 'call.ended: why the call ended, as `Call.endReason` stores it. Null for the others.',
      resolve: ({ event }) => (event.type === 'call.ended' ? event.reason : null),
    }),
    // Loaded only when the subscriber asks for it (a console may need just ids and status).
    call: t.field({ type: CallRef, nullable: true, description: 'The call as stored now; null when it is gone.', resolve: ({ event, call }, _args, ctx) => call ?? ctx.loaders.callById.clear(event.callId).load(event.callId) }),
  }),
});

builder.subscriptionType({ description: 'Live updates over graphql-ws (/graphql, the key in connectionParams) or SSE (the Authorization header), scoped to the key’s business.' });

/*
 * `extensions: { sharedExecution: true }` lets graphql-ws subscribers of the same selection
 * share one execution per event (graphql/shared-subscriptions.ts). A field may say so only when its
 * `subscribe` reads nothing but its arguments and the key's business (no first events of its
 * own, no side effects such as counting listeners), nothing it streams is droppable, and its
 * result depends on the event and the key's role alone (the sharing key holds the role), not
 * on which key asks.
 */
builder.subscriptionFields((t) => ({
  liveCalls: t.field({
    type: LiveCallEventRef,
    authScopes: { reader: true },
    description: 'The business’s calls starting, changing status and ending; the calls in progress first.',
    subscribe: (_root, _args, ctx) => liveCalls(ctx),
    resolve: (update) => update,
  }),
  callEvents: t.field({
    type: CallEventRef,
    authScopes: { reader: true },
    description: 'Everything that happens on one call of this business, as it happens.',
    args: { callId: t.arg.id({ required: true, description: 'The Call.id.' }) },
    extensions: { sharedExecution: true },
    subscribe: async (_root, args, ctx) => callTopic(ctx, String(args.callId), () => true),
    resolve: (event) => event,
  }),
  callAudio: t.field({
    type: AudioChunkRef,
    authScopes: { supervisor: true },
    description: 'Listen-in: both sides of a live call as μ-law 8 kHz audio, 20 ms a chunk, in order per track. A subscriber that reads too slowly loses audio first, then is disconnected (close code 1013, Try Again Later: graphql-ws clients reconnect).',
    args: { callId: t.arg.id({ required: true, description: 'The live call to listen to.' }) },
    subscribe: (_root, args, ctx) => callAudio(ctx, String(args.callId)),
    resolve: (chunk) => chunk,
  }),
  callUpdated: t.field({
    type: CallEventRef,
    authScopes: { reader: true },
    description: 'Post-call progress of one call: each pipeline step (transcribed, summarised, extracted), the pipeline finished, each webhook attempt.',
    args: { callId: t.arg.id({ required: true, description: 'The Call.id.' }) },
    extensions: { sharedExecution: true },
    subscribe: async (_root, args, ctx) => callTopic(ctx, String(args.callId), (event) => event.type.startsWith('pipeline.') || event.type === 'webhook.attempt'),
    resolve: (event) => event,
  }),
  outboundCallJobUpdated: t.field({
    type: OutboundCallJobRef,
    authScopes: { reader: true },
    description: 'The business’s outbound call jobs as they move: dialing, answered, a retry scheduled, finished, canceled.',
    subscribe: (_root, _args, ctx) => relay(ctx, ctx.services.bus.subscribe('business:outbound', businessIdOf(ctx)), () => false),
    // The job as it is now, not as the event saw it: events can overtake each other.
    resolve: async (event, _args, ctx) => {
      const job = await ctx.loaders.outboundJobById.clear(event.jobId).load(event.jobId);
      if (!job) throw new GraphQLError('The outbound call job is gone.', { extensions: { code: 'NOT_FOUND' } });
      return job;
    },
  }),
}));

/**
 * Back-pressure, per subscriber: a slow reader never slows a call or other subscribers.
 * Events wait on the subscriber's own socket; past `dropAudioBytes` queued there its audio
 * is dropped (everything else still goes), past `disconnectBytes` it is disconnected with
 * `slowSubscriberClose`.
 */
export const backPressure = { dropAudioBytes: 256 * 1024, disconnectBytes: 2 * 1024 * 1024 };

/**
 * How a subscriber too far behind is closed: 1013 Try Again Later (RFC 6455's registry), a
 * code graphql-ws's own client retries on, so it reconnects and subscribes again. Not 4429:
 * in the graphql-ws protocol that is "Too many initialisation requests", which the client
 * treats as fatal and never retries (graphql-ws 6, `shouldRetryConnectOrThrow`).
 */
export const slowSubscriberClose = { code: 1013, reason: 'subscriber too slow: more than 2 MB of events waiting' } as const;

/** Relays `source` to one subscriber, applying back-pressure when it streams over a socket. */
export function relay<T>(ctx: GraphQLContext, source: AsyncIterable<T>, droppable: (item: T) => boolean, keep: (item: T) => boolean = () => true): AsyncIterable<T> {
  return new Repeater<T>(async (push, stop) => {
    const iterator = source[Symbol.asyncIterator]();
    // Ending the source ends the loop below: no per-event race with `stop`.
    void stop.then(() => iterator.return?.());
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
      if (!keep(next.value)) continue;
      const queued = ctx.transport?.bufferedBytes() ?? 0;
      if (queued > backPressure.disconnectBytes) {
        disconnectSlowSubscriber(ctx);
        break;
      }
      if (queued > backPressure.dropAudioBytes && droppable(next.value)) {
        ctx.services.metrics.increment('subscription_audio_dropped_total');
        continue;
      }
      await push(next.value);
    }
    stop();
  });
}

/** Closes the socket of a subscriber more than `backPressure.disconnectBytes` behind (`slowSubscriberClose`), saying why. */
export function disconnectSlowSubscriber(ctx: GraphQLContext): void {
  ctx.services.metrics.increment('subscription_slow_disconnected_total');
  ctx.transport?.close(slowSubscriberClose.code, slowSubscriberClose.reason);
}

/** A call's events, when the call is this business's; else the same error as a call that does not exist. */
async function callTopic(ctx: GraphQLContext, callId: string, keep: (event: CallEvent) => boolean): Promise<AsyncIterable<CallEvent>> {
  const call = await ownRow(ctx, ctx.loaders.callById, callId);
  if (!call) throw notFound();
  return relay(ctx, ctx.services.bus.subscribe('call:events', call.id), () => false, keep);
}

/** Listen-in: the call's audio while this subscription lasts (the call publishes it only while someone listens). */
async function callAudio(ctx: GraphQLContext, callId: string): Promise<AsyncIterable<AudioChunk>> {
  const call = await ownRow(ctx, ctx.loaders.callById, callId);
  if (!call) throw notFound();
  const { bus } = ctx.services;
  const chunks = bus.subscribe('call:audio', call.id);
  const iterator = chunks[Symbol.asyncIterator]();
  // Start listening to the bus before telling the call someone listens.
  const first = iterator.next();
  const listenerId = randomUUID();
  bus.publish('call:listeners', call.id, { listenerId, listening: true });
  ctx.services.metrics.adjust('audio_listeners', 1);
  // A call still connecting has no one to hear that yet: say it again once it is live.
  const lifecycle = bus.subscribe('call:events', call.id)[Symbol.asyncIterator]();
  void (async () => {
    for (let next = await lifecycle.next(); !next.done; next = await lifecycle.next()) {
      if (next.value.type !== 'call.started') continue;
      bus.publish('call:listeners', call.id, { listenerId, listening: true });
      return void lifecycle.return?.();
    }
  })();
  let left = false;
  const leave = () => {
    if (left) return;
    left = true;
    ctx.services.metrics.adjust('audio_listeners', -1);
    void lifecycle.return?.();
    bus.publish('call:listeners', call.id, { listenerId, listening: false });
  };
  const source: AsyncIterable<AudioChunk> = {
    [Symbol.asyncIterator]: () => {
      let pending: Promise<IteratorResult<AudioChunk>> | undefined = first;
      return {
        next: () => {
          const next = pending ?? iterator.next();
          pending = undefined;
          return next;
        },
        return: async () => {
          leave();
          return (await iterator.return?.()) ?? { done: true, value: undefined };
        },
      };
    },
  };
  return relay(ctx, source, () => true);
}

/** The calls in progress now, then every lifecycle event of the business's calls. */
function liveCalls(ctx: GraphQLContext) {
  const businessId = businessIdOf(ctx);
  const events = ctx.services.bus.subscribe('business:calls', businessId);
  return new Repeater<{ event: CallLifecycleEvent | { type: 'call.live'; callId: string; callSid: string; at: string }; call: Row<Call> | null }>(async (push, stop) => {
    const iterator = events[Symbol.asyncIterator]();
    stop.then(() => iterator.return?.());
    // Listen before reading the current list, so a call starting in between is not missed:
    // the bus's subscription starts listening on its first next(), not when it is made.
    let pending = iterator.next();
    const live = await sql(ctx.em).selectFrom('Call').selectAll().where('business', '=', businessId).where('status', 'in', liveCallStatuses).orderBy('createdAt').execute();
    for (const call of live) {
      await push({ event: { type: 'call.live', callId: call.id, callSid: call.callSid, at: (call.startedAt ?? call.createdAt).toISOString() }, call: call as Row<Call> });
    }
    for (;; pending = iterator.next()) {
      const next = await Promise.race([pending, stop.then(() => ({ done: true, value: undefined }) as const)]);
      if (next.done) break;
      await push({ event: next.value, call: null });
    }
  });
}

function notFound(): GraphQLError {
  return new GraphQLError('No call with that id.', { extensions: { code: 'NOT_FOUND' } });
}
