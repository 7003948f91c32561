import type {
  ConversationItem,
  ConversationItemAdded,
  ConversationItemDone,
  RealtimeResponse,
  RealtimeResponseStatus,
  RealtimeServerEvent,
  ResponseCreatedEvent,
  ResponseDoneEvent,
  ResponseOutputItemAddedEvent,
  ResponseOutputItemDoneEvent,
} from 'openai/resources/realtime/realtime';
import { openaiId } from './ids.ts';
import { totalUsage, type OutputItem, type Usage } from './openai-realtime.output-item.ts';
import { SpeechOutput } from './openai-realtime.response.ts';
import { DELTA_INTERVAL_MS, rateLimitsReached, responseFailure, type Pace, type ResponseTiming } from './openai-realtime.response-behaviour.ts';
import type { IncompleteReason, QueuedReply } from './openai-realtime.script.ts';
import { FunctionCallOutput } from './openai-realtime.tool-call.ts';

export type CancelReason = 'turn_detected' | 'client_cancelled';

/** How a response ended, as `response.done` reports it. */
export type ResponseOutcome =
  | { status: 'completed' }
  | { status: 'cancelled'; reason: CancelReason }
  | { status: 'incomplete'; reason: IncompleteReason }
  | { status: 'failed'; error: RealtimeResponseStatus.Error };

/** A response in progress, whatever its output: what the session needs to steer it. */
export interface ActiveResponse {
  readonly responseId: string;
  /** True once no more output will start: the cancel's late deltas or `response.done` are still to come. */
  readonly ending: boolean;
  /** Sends `response.created` and starts the output. */
  start(): void;
  /** Ends the response `cancelled` (after a few late audio deltas); no-op once `response.done` was sent. */
  cancel(reason: CancelReason): void;
  /** Stops without sending anything more: the socket is gone. */
  abandon(): void;
}

export interface StreamedResponseOptions {
  pace: Pace;
  /** Shared with the session, which may change it; read at each wait. */
  timing: ResponseTiming;
  model: string;
  conversationId: string;
  voice: string;
  /** What the response reads (the conversation and instructions at its start): `usage.input_tokens`. */
  inputTokens?: { text: number; audio: number };
  /** The `metadata` of the client's `response.create`, echoed in `response.created` / `response.done` (null for VAD's). */
  metadata?: RealtimeResponse['metadata'];
  reply: QueuedReply;
  send: (event: RealtimeServerEvent) => void;
  /** An output item is about to be announced: put it in the conversation; returns the id of the item it follows. */
  addItem: (itemId: string, item: ConversationItem, audio: { readonly audioSentMs: number } | undefined) => string | null;
  /** An output item ended (completed or incomplete): its final state. */
  updateItem: (itemId: string, item: ConversationItem) => void;
  /** Called once, after `response.done` was sent. */
  onDone: (outcome: ResponseOutcome) => void;
}

/** An output item whose deltas are streaming. */
interface OpenItem {
  output: OutputItem;
  /** The item it follows in the conversation, as `conversation.item.added` said. */
  previousItemId: string | null;
  deltasSent: number;
}

/**
 * One response streamed as the GA API streams it: `response.created`; each output item in
 * turn (`response.output_item.added`, `conversation.item.added`, its deltas, its done
 * events, `response.output_item.done`, `conversation.item.done`); then, in a later
 * macrotask after `responseDoneGapMs`, `response.done` listing every item that was sent.
 * A failure sends no item; `incomplete` cuts the last item about halfway; a cancel lets up
 * to `lateDeltasAfterCancel` audio deltas through in the next macrotask, closes the open
 * item `incomplete` and starts no further item. A cancel in the gap before `response.done`
 * turns a completed response into a cancelled one.
 *
 * Invariants: the response is active (refuses another) until `response.done`; after it
 * nothing more is sent and no timer is left; `abandon()` sends nothing more at all.
 */
export class StreamedResponse implements ActiveResponse {
  readonly responseId = openaiId('resp');
  #options: StreamedResponseOptions;
  #outputs: OutputItem[];
  /** Items announced so far, in output order. */
  #added: OutputItem[] = [];
  /** The item whose deltas are streaming, with the item it follows and how many deltas it sent. */
  #open: OpenItem | undefined;
  #usages: Usage[] = [];
  /** Set once the response is ending; `response.done` reports it. */
  #outcome: ResponseOutcome | undefined;
  #finished = false;
  #cancelTimer: (() => void) | undefined;

  constructor(options: StreamedResponseOptions) {
    this.#options = options;
    this.#outputs = options.reply.output.map((output, outputIndex) => {
      const place = { responseId: this.responseId, outputIndex };
      return 'toolCall' in output ? new FunctionCallOutput(place, options.send, output.toolCall) : new SpeechOutput(place, options.send, output.speech);
    });
  }

  get ending(): boolean {
    return this.#outcome !== undefined && !this.#finished;
  }

  start(): void {
    const { send, reply, model } = this.#options;
    send({ type: 'response.created', event_id: openaiId('event'), response: this.#resource('in_progress', []) } satisfies ResponseCreatedEvent);
    if (!reply.fail) {
      // A cancel during the wait stops this timer like any other (the response then ends with no item).
      const delayMs = this.#options.timing.firstAudioDelayMs;
      if (delayMs > 0) this.#cancelTimer = later(delayMs, () => this.#step());
      else this.#step();
      return;
    }
    const { error, resetSeconds } = responseFailure(reply.fail, model);
    if (error.code === 'rate_limit_exceeded') send(rateLimitsReached(resetSeconds));
    this.#end({ status: 'failed', error });
  }

  cancel(reason: CancelReason): void {
    if (this.#finished) return;
    if (this.#outcome) {
      // Only the cancel's late deltas or response.done are still to come: a completed response becomes cancelled.
      if (this.#outcome.status === 'completed') this.#outcome = { status: 'cancelled', reason };
      return;
    }
    this.#stopTimer();
    this.#outcome = { status: 'cancelled', reason };
    // Deltas already on their way reach the client after the cancel (and after the speech_started that caused it).
    this.#cancelTimer = later(0, () => {
      const open = this.#open;
      if (open?.output.streamsAudio) {
        for (let sent = 0; sent < this.#options.timing.lateDeltasAfterCancel; sent++) if (open.output.sendDelta()) break;
      }
      if (open) this.#closeOpen('incomplete');
      this.#scheduleDone();
    });
  }

  abandon(): void {
    this.#stopTimer();
    this.#finished = true;
  }

  #step(): void {
    this.#cancelTimer = undefined;
    const open = this.#open ?? this.#openNext();
    if (!open) return this.#end({ status: 'completed' });
    const { pace, timing, reply } = this.#options;
    const burst = pace === 'realtime' && open.output.streamsAudio ? Math.max(1, timing.audioBurst.deltas) : 1;
    const isLast = this.#added.length === this.#outputs.length;
    const cutAt = reply.incomplete && isLast ? Math.ceil(open.output.deltaCount / 2) : Infinity;
    for (let sent = 0; sent < burst; sent++) {
      const all = open.output.sendDelta();
      open.deltasSent++;
      if (reply.incomplete && open.deltasSent >= cutAt) {
        this.#closeOpen('incomplete');
        return this.#end({ status: 'incomplete', reason: reply.incomplete });
      }
      if (all) {
        this.#closeOpen('completed');
        if (isLast) return this.#end({ status: 'completed' });
        break;
      }
    }
    const intervalMs = pace === 'instant' ? 0 : open.output.streamsAudio ? timing.audioBurst.intervalMs : DELTA_INTERVAL_MS;
    this.#cancelTimer = later(intervalMs, () => this.#step());
  }

  /** Announces the next output item; undefined when there is none. */
  #openNext(): OpenItem | undefined {
    const output = this.#outputs[this.#added.length];
    if (!output) return undefined;
    const { send, addItem } = this.#options;
    const item = output.item;
    const previousItemId = addItem(output.itemId, item, output.audio);
    this.#added.push(output);
    this.#open = { output, previousItemId, deltasSent: 0 };
    send({ type: 'response.output_item.added', event_id: openaiId('event'), response_id: this.responseId, output_index: this.#added.length - 1, item } satisfies ResponseOutputItemAddedEvent);
    send({ type: 'conversation.item.added', event_id: openaiId('event'), previous_item_id: previousItemId, item } satisfies ConversationItemAdded);
    output.opened();
    return this.#open;
  }

  #closeOpen(status: 'completed' | 'incomplete'): void {
    if (!this.#open) return;
    const { output, previousItemId } = this.#open;
    this.#open = undefined;
    const { item, usage } = output.close(status);
    this.#usages.push(usage);
    this.#options.updateItem(output.itemId, item);
    const { send } = this.#options;
    const outputIndex = this.#added.indexOf(output);
    send({ type: 'response.output_item.done', event_id: openaiId('event'), response_id: this.responseId, output_index: outputIndex, item } satisfies ResponseOutputItemDoneEvent);
    send({ type: 'conversation.item.done', event_id: openaiId('event'), previous_item_id: previousItemId, item } satisfies ConversationItemDone);
  }

  #end(outcome: ResponseOutcome): void {
    this.#outcome = outcome;
    this.#scheduleDone();
  }

  #scheduleDone(): void {
    this.#cancelTimer = later(this.#options.timing.responseDoneGapMs, () => this.#finish());
  }

  #finish(): void {
    this.#cancelTimer = undefined;
    this.#finished = true;
    const outcome = this.#outcome ?? { status: 'completed' };
    const response = this.#resource(outcome.status, this.#added.map((output) => output.item));
    if (outcome.status === 'cancelled' || outcome.status === 'incomplete') response.status_details = { type: outcome.status, reason: outcome.reason };
    if (outcome.status === 'failed') response.status_details = { type: 'failed', error: outcome.error };
    // A failed response (refused: a rate limit, a server error) read nothing it bills.
    response.usage = totalUsage(this.#usages, outcome.status === 'failed' ? undefined : this.#options.inputTokens);
    this.#options.send({ type: 'response.done', event_id: openaiId('event'), response } satisfies ResponseDoneEvent);
    this.#options.onDone(outcome);
  }

  #stopTimer(): void {
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
  }

  /** The `response` object of `response.created` and `response.done`. */
  #resource(status: NonNullable<RealtimeResponse['status']>, output: ConversationItem[]): RealtimeResponse {
    return {
      object: 'realtime.response',
      id: this.responseId,
      status,
      output,
      conversation_id: this.#options.conversationId,
      output_modalities: ['audio'],
      max_output_tokens: 'inf',
      audio: { output: { format: { type: 'audio/pcmu' }, voice: this.#options.voice } },
      metadata: this.#options.metadata ?? null,
    };
  }
}

/** Runs `next` after `ms`, or in the next macrotask when `ms` is 0; returns what cancels it. */
function later(ms: number, next: () => void): () => void {
  if (ms > 0) {
    const timeout = setTimeout(next, ms);
    return () => clearTimeout(timeout);
  }
  const immediate = setImmediate(next);
  return () => clearImmediate(immediate);
}
