import { getOperationAST, Kind, OperationTypeNode, type DocumentNode, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { describeError } from '../core/errors.ts';
import type { GraphQLContext } from '../schema/context.ts';
import { backPressure, disconnectSlowSubscriber } from '../schema/subscriptions.ts';

type Subscribe = (args: ExecutionArgs) => unknown;
type Stream = AsyncIterator<ExecutionResult>;

/**
 * Fan-out of one call's events to many graphql-ws subscribers. Each subscriber used to run
 * its own pipeline per event — a bus listener, two Repeaters, the executor's iterator
 * mapping, one execution with the field wrappers, envelop's result hooks — so 500
 * subscribers of a call cost tens of ms of the event loop per event. Subscribers of the same
 * selection (document, operation, variables, business, role) now share a group: one
 * pipeline, run through yoga's enveloped `subscribe` as before (auth, masking, hooks), whose
 * results each member only queues and sends.
 *
 * Invariants:
 * - Every subscriber is authorised by its own `subscribe` run (scope auth, the call's
 *   tenant): a refused subscriber gets its own error, as before. A follower's own stream is
 *   returned before it ever started, and the follower joins the group.
 * - The group runs with the first member's context minus its socket, so it never waits
 *   for, drops for or disconnects a member; the group lives on when that member leaves.
 * - Per member: the group's results in order, each once; a member whose socket and queue
 *   hold more than `backPressure.disconnectBytes` is disconnected (`slowSubscriberClose`). A slow member
 *   never slows the group or the others.
 * - The group's source is returned when its last member leaves; when the source ends or
 *   fails, every member completes, or gets that error, after what it has queued.
 */
export class SharedSubscriptions {
  private readonly groups = new WeakMap<DocumentNode, Map<string, SubscriptionGroup>>();

  /** Runs `subscribe` (yoga's enveloped one) for `args`, sharing the execution when the field allows it. */
  async subscribe(args: ExecutionArgs, subscribe: Subscribe): Promise<unknown> {
    const ctx = args.contextValue as GraphQLContext;
    const key = sharingKey(args, ctx);
    if (key === null) return subscribe(args);
    let groups = this.groups.get(args.document);
    if (!groups) this.groups.set(args.document, (groups = new Map()));

    const existing = groups.get(key);
    if (existing) {
      const own = await subscribe(args);
      if (!isAsyncIterable(own)) return own;
      const member = (await existing.started) ? existing.join(ctx) : null;
      // The group failed or ended meanwhile: this subscriber keeps its own pipeline.
      if (!member) return own;
      Promise.resolve(own[Symbol.asyncIterator]().return?.()).catch((error: unknown) => ctx.logger.warn({ err: describeError(error) }, 'closing an unused subscription stream failed'));
      return member;
    }

    const group = new SubscriptionGroup(() => {
      if (groups.get(key) === group) groups.delete(key);
    });
    groups.set(key, group);
    // The group's own run is this subscriber's authorisation.
    const refused = await group.start(subscribe, { ...args, contextValue: { ...ctx, transport: undefined } });
    if (refused) return refused;
    const member = group.join(ctx)!;
    void group.pump();
    return member;
  }
}

/**
 * What subscribers must have in common to share an execution; null when this one may not:
 * only a single root field marked `extensions: { sharedExecution: true }` (see
 * subscriptions.ts for what such a field promises), over a socket, for a business's key.
 */
function sharingKey(args: ExecutionArgs, ctx: GraphQLContext): string | null {
  const operation = getOperationAST(args.document, args.operationName);
  if (operation?.operation !== OperationTypeNode.SUBSCRIPTION || operation.selectionSet.selections.length !== 1) return null;
  const [selection] = operation.selectionSet.selections;
  if (selection?.kind !== Kind.FIELD) return null;
  const field = args.schema.getSubscriptionType()?.getFields()[selection.name.value];
  if (field?.extensions.sharedExecution !== true || ctx.auth?.kind !== 'business' || !ctx.transport) return null;
  return JSON.stringify([ctx.auth.businessId, ctx.auth.role, args.operationName ?? null, args.variableValues ?? null]);
}

function isAsyncIterable(value: unknown): value is AsyncIterable<ExecutionResult> {
  return typeof (value as Partial<AsyncIterable<unknown>> | null)?.[Symbol.asyncIterator] === 'function';
}

/** One subscription pipeline whose results go to every member. */
class SubscriptionGroup {
  private readonly members = new Set<Member>();
  private stream: Stream | undefined;
  private ended = false;
  /** Settles when the group's subscription is running or refused: true when members may join. */
  started: Promise<boolean> = Promise.resolve(false);

  private readonly onEnd: () => void;

  constructor(onEnd: () => void) {
    this.onEnd = onEnd;
  }

  /** Subscribes for the group; the error result when refused (the group is then over). */
  start(subscribe: Subscribe, args: ExecutionArgs): Promise<ExecutionResult | null> {
    const starting = Promise.resolve(subscribe(args)).then(
      (result) => {
        if (isAsyncIterable(result)) {
          this.stream = result[Symbol.asyncIterator]();
          return null;
        }
        this.end();
        return result as ExecutionResult;
      },
      (error: unknown) => {
        this.end();
        throw error;
      },
    );
    this.started = starting.then(
      () => !this.ended,
      () => false,
    );
    return starting;
  }

  /** A new member, or null when the group has ended. */
  join(ctx: GraphQLContext): Member | null {
    if (this.ended) return null;
    const member = new Member(ctx, () => this.leave(member));
    this.members.add(member);
    return member;
  }

  /** Hands every result of the group's stream to the members present when it arrives. */
  async pump(): Promise<void> {
    const stream = this.stream!;
    let failure: { error: unknown } | undefined;
    try {
      for (let next = await stream.next(); !next.done && !this.ended; next = await stream.next()) {
        // Sized once for all members: what each one's queue grows by.
        const bytes = Buffer.byteLength(JSON.stringify(next.value));
        for (const member of this.members) member.deliver(next.value, bytes);
      }
    } catch (error) {
      failure = { error };
    }
    this.end();
    for (const member of this.members) member.finish(failure);
  }

  private leave(member: Member): void {
    this.members.delete(member);
    if (this.members.size > 0 || this.ended) return;
    this.end();
    Promise.resolve(this.stream?.return?.()).catch((error: unknown) => member.ctx.logger.warn({ err: describeError(error) }, 'closing a shared subscription failed'));
  }

  private end(): void {
    this.ended = true;
    this.onEnd();
  }
}

/**
 * One subscriber of a group, as the async iterator graphql-ws reads: the group's results in
 * order, queued while graphql-ws still sends an earlier one on this subscriber's socket.
 */
class Member implements AsyncIterableIterator<ExecutionResult> {
  private readonly queue: { result: ExecutionResult; bytes: number }[] = [];
  private queuedBytes = 0;
  private waiting: { resolve: (next: IteratorResult<ExecutionResult>) => void; reject: (error: unknown) => void } | undefined;
  /** Set when the group is over: ends this member after its queue. */
  private finished: { failure: { error: unknown } | undefined } | undefined;
  private done = false;

  readonly ctx: GraphQLContext;
  private readonly leave: () => void;

  constructor(ctx: GraphQLContext, leave: () => void) {
    this.ctx = ctx;
    this.leave = leave;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Takes one result of the group; disconnects this subscriber instead when it is too far behind. */
  deliver(result: ExecutionResult, bytes: number): void {
    if (this.done) return;
    if ((this.ctx.transport?.bufferedBytes() ?? 0) + this.queuedBytes + bytes > backPressure.disconnectBytes) {
      disconnectSlowSubscriber(this.ctx);
      void this.return();
      return;
    }
    if (this.waiting) {
      const { resolve } = this.waiting;
      this.waiting = undefined;
      resolve({ value: result, done: false });
      return;
    }
    this.queue.push({ result, bytes });
    this.queuedBytes += bytes;
  }

  /** The group is over (with `failure` when its source failed). */
  finish(failure: { error: unknown } | undefined): void {
    if (this.done) return;
    this.finished = { failure };
    if (this.waiting) this.settle();
  }

  next(): Promise<IteratorResult<ExecutionResult>> {
    const item = this.queue.shift();
    if (item) {
      this.queuedBytes -= item.bytes;
      return Promise.resolve({ value: item.result, done: false });
    }
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      if (this.finished) this.settle();
    });
  }

  return(): Promise<IteratorResult<ExecutionResult>> {
    if (!this.done) {
      this.done = true;
      this.queue.length = 0;
      this.queuedBytes = 0;
      this.leave();
      this.waiting?.resolve({ value: undefined, done: true });
      this.waiting = undefined;
    }
    return Promise.resolve({ value: undefined, done: true });
  }

  /** Ends the waiting `next` with the group's end: done, or its error. */
  private settle(): void {
    const waiting = this.waiting!;
    const failure = this.finished?.failure;
    this.waiting = undefined;
    this.done = true;
    this.leave();
    if (failure) waiting.reject(failure.error);
    else waiting.resolve({ value: undefined, done: true });
  }
}
