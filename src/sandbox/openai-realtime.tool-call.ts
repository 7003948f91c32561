import type {
  RealtimeConversationItemFunctionCall,
  ResponseFunctionCallArgumentsDeltaEvent,
  ResponseFunctionCallArgumentsDoneEvent,
} from 'openai/resources/realtime/realtime';
import { openaiId } from './ids.ts';
import { outputUsage, StreamedResponse, type ResponseOutcome, type StreamOptions } from './openai-realtime.streamed-response.ts';

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

export interface ToolCallStreamOptions extends StreamOptions {
  call: ToolCall;
}

/**
 * Streams one response whose output is a function call, in the GA event order:
 * `response.created`, the `function_call` item (`response.output_item.added`,
 * `conversation.item.added`), the arguments in one or two `response.function_call_arguments.delta`s,
 * `response.function_call_arguments.done`, the completed item (`response.output_item.done`,
 * `conversation.item.done`) and `response.done`. No audio. `cancel()` closes the response
 * as `cancelled` with the item `incomplete` and the arguments sent so far.
 */
export class ToolCallStream extends StreamedResponse<RealtimeConversationItemFunctionCall, ToolCallStreamOptions> {
  #chunks: string[];
  #chunksSent = 0;

  constructor(options: ToolCallStreamOptions) {
    super(options);
    this.#chunks = argumentChunks(options.call.arguments);
  }

  protected override pendingItem(): RealtimeConversationItemFunctionCall {
    return functionCallItem(this.itemId, this.options.call, 'in_progress', '');
  }

  protected override sendDelta(): boolean {
    this.options.send({
      type: 'response.function_call_arguments.delta',
      event_id: openaiId('event'),
      response_id: this.responseId,
      item_id: this.itemId,
      output_index: 0,
      call_id: this.options.call.callId,
      delta: this.#chunks[this.#chunksSent++] ?? '',
    } satisfies ResponseFunctionCallArgumentsDeltaEvent);
    return this.#chunksSent >= this.#chunks.length;
  }

  protected override closeOutput(outcome: ResponseOutcome) {
    const { call } = this.options;
    const args = this.#chunks.slice(0, this.#chunksSent).join('');
    this.options.send({
      type: 'response.function_call_arguments.done',
      event_id: openaiId('event'),
      response_id: this.responseId,
      item_id: this.itemId,
      output_index: 0,
      call_id: call.callId,
      name: call.name,
      arguments: args,
    } satisfies ResponseFunctionCallArgumentsDoneEvent);
    const item = functionCallItem(this.itemId, call, outcome.status === 'completed' ? 'completed' : 'incomplete', args);
    // About four characters a token; a function call is text output only.
    return { item, usage: outputUsage(Math.ceil(args.length / 4), 0) };
  }
}

function functionCallItem(id: string, call: ToolCall, status: 'in_progress' | 'completed' | 'incomplete', args: string): RealtimeConversationItemFunctionCall {
  return { id, object: 'realtime.item', type: 'function_call', status, name: call.name, call_id: call.callId, arguments: args };
}

/** The arguments in two deltas split at a code point (one when shorter than two characters). */
function argumentChunks(args: string): string[] {
  const characters = Array.from(args);
  if (characters.length < 2) return [args];
  const half = Math.ceil(characters.length / 2);
  return [characters.slice(0, half).join(''), characters.slice(half).join('')];
}
