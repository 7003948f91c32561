import type {
  RealtimeConversationItemFunctionCall,
  RealtimeServerEvent,
  ResponseFunctionCallArgumentsDeltaEvent,
  ResponseFunctionCallArgumentsDoneEvent,
} from 'openai/resources/realtime/realtime';
import { openaiId } from './ids.ts';
import { OutputItem, outputUsage, type OutputPlace } from './openai-realtime.output-item.ts';

/** A function call the model makes. `arguments` is sent as is: JSON text, valid or not. */
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

/**
 * One `function_call` output item streaming in the GA event order: the item opens
 * `in_progress` with empty arguments, the arguments follow in one or two
 * `response.function_call_arguments.delta`s, then `response.function_call_arguments.done`.
 * No audio. Closed early, the item and the done event hold the arguments sent so far.
 */
export class FunctionCallOutput extends OutputItem<RealtimeConversationItemFunctionCall> {
  item: RealtimeConversationItemFunctionCall;
  readonly deltaCount: number;
  #call: ToolCall;
  #chunks: string[];
  #chunksSent = 0;

  constructor(place: OutputPlace, send: (event: RealtimeServerEvent) => void, call: ToolCall) {
    super(place, send);
    this.#call = call;
    this.#chunks = argumentChunks(call.arguments);
    this.deltaCount = this.#chunks.length;
    this.item = functionCallItem(this.itemId, call, 'in_progress', '');
  }

  sendDelta(): boolean {
    this.send({
      type: 'response.function_call_arguments.delta',
      event_id: openaiId('event'),
      response_id: this.place.responseId,
      item_id: this.itemId,
      output_index: this.place.outputIndex,
      call_id: this.#call.callId,
      delta: this.#chunks[this.#chunksSent++] ?? '',
    } satisfies ResponseFunctionCallArgumentsDeltaEvent);
    return this.#chunksSent >= this.#chunks.length;
  }

  close(status: 'completed' | 'incomplete') {
    const call = this.#call;
    const args = this.#chunks.slice(0, this.#chunksSent).join('');
    this.send({
      type: 'response.function_call_arguments.done',
      event_id: openaiId('event'),
      response_id: this.place.responseId,
      item_id: this.itemId,
      output_index: this.place.outputIndex,
      call_id: call.callId,
      name: call.name,
      arguments: args,
    } satisfies ResponseFunctionCallArgumentsDoneEvent);
    this.item = functionCallItem(this.itemId, call, status, args);
    // About four characters a token; a function call is text output only.
    return { item: this.item, usage: outputUsage(Math.ceil(args.length / 4), 0) };
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
