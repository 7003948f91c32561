import type {
  ConversationItem,
  ConversationItemAdded,
  ConversationItemDone,
  RealtimeResponse,
  RealtimeServerEvent,
  ResponseCreatedEvent,
  ResponseDoneEvent,
  ResponseOutputItemAddedEvent,
  ResponseOutputItemDoneEvent,
} from 'openai/resources/realtime/realtime';
import { openaiId } from './ids.ts';

/** Time between two deltas at 'realtime' pace: 100 ms of audio, or a function call's next arguments. */
export const DELTA_INTERVAL_MS = 100;

/**
 * 'realtime': one audio delta per 100 ms of audio (and 100 ms between a function call's
 * argument deltas); 'instant': as fast as the socket takes them.
 */
export type Pace = 'realtime' | 'instant';

/** How a response ended, as `response.done` reports it. */
export type ResponseOutcome = { status: 'completed' } | { status: 'cancelled'; reason: 'turn_detected' | 'client_cancelled' };

/**
 * A response in progress, whatever its output (speech or a function call): what the
 * session needs to steer it. It has one output item, `itemId`, reported as `item`.
 */
export interface ActiveResponse {
  readonly responseId: string;
  readonly itemId: string;
  /** The output item as last reported to the client. */
  readonly item: ConversationItem;
  /** Sends the opening events and starts the deltas. */
  start(): void;
  /** Stops the response where it is and reports it `cancelled`; no-op once done. */
  cancel(reason: 'turn_detected' | 'client_cancelled'): void;
  /** Stops without sending anything more: the socket is gone. */
  abandon(): void;
}

export interface StreamOptions {
  pace: Pace;
  conversationId: string;
  /** The item the output item follows in the conversation, if any. */
  previousItemId: string | null;
  voice: string;
  /** The `metadata` of the client's `response.create`, echoed in `response.created` / `response.done` (null for VAD's). */
  metadata?: RealtimeResponse['metadata'];
  send: (event: RealtimeServerEvent) => void;
  /** Called once, after `response.done` was sent. */
  onDone: (outcome: ResponseOutcome) => void;
}

/**
 * What every streamed response does, whatever its one output item: `response.created`, the
 * item added (`response.output_item.added`, `conversation.item.added`), deltas one interval
 * apart at the session's pace, then the item done (`response.output_item.done`,
 * `conversation.item.done`) and `response.done` — or the same close early on `cancel()`.
 * A subclass sends its own deltas and its own done events for what is inside the item.
 *
 * Invariants: after `response.done` nothing more is sent and no timer is left; `abandon()`
 * sends nothing more at all.
 */
export abstract class StreamedResponse<I extends ConversationItem, O extends StreamOptions> implements ActiveResponse {
  readonly responseId = openaiId('resp');
  readonly itemId = openaiId('item');
  /** The output item as last reported: in progress, then completed or incomplete. */
  item: I;
  protected readonly options: O;
  private cancelTimer: (() => void) | undefined;
  private finished = false;

  constructor(options: O) {
    this.options = options;
    this.item = this.pendingItem();
  }

  /** True once `response.done` was sent (or the response was abandoned). */
  get done(): boolean {
    return this.finished;
  }

  start(): void {
    const { send, previousItemId } = this.options;
    const item = this.item;
    send({ type: 'response.created', event_id: openaiId('event'), response: this.resource('in_progress', []) } satisfies ResponseCreatedEvent);
    send({ type: 'response.output_item.added', event_id: openaiId('event'), response_id: this.responseId, output_index: 0, item } satisfies ResponseOutputItemAddedEvent);
    send({ type: 'conversation.item.added', event_id: openaiId('event'), previous_item_id: previousItemId, item } satisfies ConversationItemAdded);
    this.opened();
    this.step();
  }

  cancel(reason: 'turn_detected' | 'client_cancelled'): void {
    if (this.finished) return;
    this.stopTimer();
    this.finish({ status: 'cancelled', reason });
  }

  abandon(): void {
    this.stopTimer();
    this.finished = true;
  }

  /** The item as first reported, before any delta. Called from the constructor: use only `itemId` and `options`. */
  protected abstract pendingItem(): I;

  /** Sends what follows the item's opening (a content part, say); nothing by default. */
  protected opened(): void {}

  /** Sends the next delta(s); true when everything has been sent. */
  protected abstract sendDelta(): boolean;

  /** Sends the done events of what is inside the item; returns the item as it ends and the usage. */
  protected abstract closeOutput(outcome: ResponseOutcome): { item: I; usage: NonNullable<RealtimeResponse['usage']> };

  private step(): void {
    this.cancelTimer = undefined;
    if (this.finished) return;
    if (this.sendDelta()) this.finish({ status: 'completed' });
    else this.cancelTimer = scheduleDelta(this.options.pace, () => this.step());
  }

  private stopTimer(): void {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
  }

  private finish(outcome: ResponseOutcome): void {
    this.finished = true;
    const { send, previousItemId } = this.options;
    const { item, usage } = this.closeOutput(outcome);
    this.item = item;
    send({ type: 'response.output_item.done', event_id: openaiId('event'), response_id: this.responseId, output_index: 0, item } satisfies ResponseOutputItemDoneEvent);
    send({ type: 'conversation.item.done', event_id: openaiId('event'), previous_item_id: previousItemId, item } satisfies ConversationItemDone);
    const response = this.resource(outcome.status, [item]);
    if (outcome.status === 'cancelled') response.status_details = { type: 'cancelled', reason: outcome.reason };
    response.usage = usage;
    send({ type: 'response.done', event_id: openaiId('event'), response } satisfies ResponseDoneEvent);
    this.options.onDone(outcome);
  }

  /** The `response` object of `response.created` and `response.done`. */
  private resource(status: NonNullable<RealtimeResponse['status']>, output: ConversationItem[]): RealtimeResponse {
    return {
      object: 'realtime.response',
      id: this.responseId,
      status,
      output,
      conversation_id: this.options.conversationId,
      output_modalities: ['audio'],
      max_output_tokens: 'inf',
      audio: { output: { format: { type: 'audio/pcmu' }, voice: this.options.voice } },
      metadata: this.options.metadata ?? null,
    };
  }
}

/** Token counts of an output with `textTokens` text and `audioTokens` audio tokens and no input. */
export function outputUsage(textTokens: number, audioTokens: number): NonNullable<RealtimeResponse['usage']> {
  return {
    total_tokens: audioTokens + textTokens,
    input_tokens: 0,
    output_tokens: audioTokens + textTokens,
    input_token_details: { text_tokens: 0, audio_tokens: 0, cached_tokens: 0 },
    output_token_details: { text_tokens: textTokens, audio_tokens: audioTokens },
  };
}

/**
 * Runs `next` one delta later at `pace` and returns what cancels it. 'instant' still
 * yields to the event loop, so client events (a barge-in, a cancel) interleave.
 */
function scheduleDelta(pace: Pace, next: () => void): () => void {
  if (pace === 'realtime') {
    const timeout = setTimeout(next, DELTA_INTERVAL_MS);
    return () => clearTimeout(timeout);
  }
  const immediate = setImmediate(next);
  return () => clearImmediate(immediate);
}
