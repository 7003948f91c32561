import type {
  ConversationItemAdded,
  ConversationItemDone,
  RealtimeConversationItemFunctionCall,
  RealtimeResponse,
  ResponseCreatedEvent,
  ResponseDoneEvent,
  ResponseFunctionCallArgumentsDeltaEvent,
  ResponseFunctionCallArgumentsDoneEvent,
  ResponseOutputItemAddedEvent,
  ResponseOutputItemDoneEvent,
} from 'openai/resources/realtime/realtime';
import { openaiId } from './ids.ts';
import { responseResource, scheduleDelta, type ActiveResponse, type ResponseOutcome, type ResponseStreamOptions } from './openai-realtime.response.ts';

/** A function call the model makes instead of speaking. `arguments` is sent as is: JSON text, valid or not. */
export interface ToolCall {
  name: string;
  arguments: string;
  callId: string;
}

/** A `function_call_output` the client added to the conversation, answering one of the model's calls. */
export interface ToolOutput {
  callId: string;
  output: string;
}

/** A call id shaped like OpenAI's: `call_` and 16 alphanumerics. */
export function newCallId(): string {
  return `call_${openaiId('item').slice('item_'.length, 'item_'.length + 16)}`;
}

export interface ToolCallStreamOptions extends Omit<ResponseStreamOptions, 'reply'> {
  call: ToolCall;
}

/**
 * Streams one response whose output is a function call, in the GA event order:
 * `response.created`, the `function_call` item (`response.output_item.added`,
 * `conversation.item.added`), the arguments in one or two `response.function_call_arguments.delta`s,
 * `response.function_call_arguments.done`, the completed item (`response.output_item.done`,
 * `conversation.item.done`) and `response.done`. No audio.
 *
 * Invariants: after `response.done` nothing more is sent and no timer is left; `cancel()`
 * closes the response as `cancelled` with the item `incomplete` and the arguments sent so far.
 */
export class ToolCallStream implements ActiveResponse {
  readonly responseId = openaiId('resp');
  readonly itemId = openaiId('item');
  /** The function call item as last reported: in progress with no arguments, then completed or incomplete. */
  item: RealtimeConversationItemFunctionCall;
  #options: ToolCallStreamOptions;
  #chunks: string[];
  #chunksSent = 0;
  #cancelTimer: (() => void) | undefined;
  #done = false;

  constructor(options: ToolCallStreamOptions) {
    this.#options = options;
    this.#chunks = argumentChunks(options.call.arguments);
    this.item = this.#item('in_progress', '');
  }

  /** Sends the opening events and the first arguments delta. */
  start(): void {
    const { send, previousItemId } = this.#options;
    const item = this.item;
    send({ type: 'response.created', event_id: openaiId('event'), response: this.#response('in_progress', []) } satisfies ResponseCreatedEvent);
    send({ type: 'response.output_item.added', event_id: openaiId('event'), response_id: this.responseId, output_index: 0, item } satisfies ResponseOutputItemAddedEvent);
    send({ type: 'conversation.item.added', event_id: openaiId('event'), previous_item_id: previousItemId, item } satisfies ConversationItemAdded);
    this.#sendChunk();
  }

  cancel(reason: 'turn_detected' | 'client_cancelled'): void {
    if (this.#done) return;
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    this.#finish({ status: 'cancelled', reason });
  }

  abandon(): void {
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    this.#done = true;
  }

  #sendChunk(): void {
    this.#cancelTimer = undefined;
    if (this.#done) return;
    const delta = this.#chunks[this.#chunksSent++] ?? '';
    this.#options.send({
      type: 'response.function_call_arguments.delta',
      event_id: openaiId('event'),
      response_id: this.responseId,
      item_id: this.itemId,
      output_index: 0,
      call_id: this.#options.call.callId,
      delta,
    } satisfies ResponseFunctionCallArgumentsDeltaEvent);
    if (this.#chunksSent >= this.#chunks.length) this.#finish({ status: 'completed' });
    else this.#cancelTimer = scheduleDelta(this.#options.pace, () => this.#sendChunk());
  }

  #finish(outcome: ResponseOutcome): void {
    this.#done = true;
    const { send, call } = this.#options;
    const args = this.#chunks.slice(0, this.#chunksSent).join('');
    const item = this.#item(outcome.status === 'completed' ? 'completed' : 'incomplete', args);
    this.item = item;
    send({
      type: 'response.function_call_arguments.done',
      event_id: openaiId('event'),
      response_id: this.responseId,
      item_id: this.itemId,
      output_index: 0,
      call_id: call.callId,
      name: call.name,
      arguments: args,
    } satisfies ResponseFunctionCallArgumentsDoneEvent);
    send({ type: 'response.output_item.done', event_id: openaiId('event'), response_id: this.responseId, output_index: 0, item } satisfies ResponseOutputItemDoneEvent);
    send({ type: 'conversation.item.done', event_id: openaiId('event'), previous_item_id: this.#options.previousItemId, item } satisfies ConversationItemDone);
    const response = this.#response(outcome.status, [item]);
    if (outcome.status === 'cancelled') response.status_details = { type: 'cancelled', reason: outcome.reason };
    // About four characters a token; a function call is text output only.
    const textTokens = Math.ceil(args.length / 4);
    response.usage = {
      total_tokens: textTokens,
      input_tokens: 0,
      output_tokens: textTokens,
      input_token_details: { text_tokens: 0, audio_tokens: 0, cached_tokens: 0 },
      output_token_details: { text_tokens: textTokens, audio_tokens: 0 },
    };
    send({ type: 'response.done', event_id: openaiId('event'), response } satisfies ResponseDoneEvent);
    this.#options.onDone(outcome);
  }

  #item(status: 'in_progress' | 'completed' | 'incomplete', args: string): RealtimeConversationItemFunctionCall {
    const { name, callId } = this.#options.call;
    return { id: this.itemId, object: 'realtime.item', type: 'function_call', status, name, call_id: callId, arguments: args };
  }

  #response(status: NonNullable<RealtimeResponse['status']>, output: RealtimeConversationItemFunctionCall[]): RealtimeResponse {
    return responseResource({ id: this.responseId, status, output, conversationId: this.#options.conversationId, voice: this.#options.voice });
  }
}

/** The arguments in two deltas split at a code point (one when shorter than two characters). */
function argumentChunks(args: string): string[] {
  const characters = Array.from(args);
  if (characters.length < 2) return [args];
  const half = Math.ceil(characters.length / 2);
  return [characters.slice(0, half).join(''), characters.slice(half).join('')];
}
