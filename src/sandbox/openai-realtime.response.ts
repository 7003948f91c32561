import type {
  ConversationItem,
  ConversationItemAdded,
  ConversationItemDone,
  RealtimeConversationItemAssistantMessage,
  RealtimeResponse,
  RealtimeServerEvent,
  ResponseAudioDeltaEvent,
  ResponseAudioDoneEvent,
  ResponseAudioTranscriptDeltaEvent,
  ResponseAudioTranscriptDoneEvent,
  ResponseContentPartAddedEvent,
  ResponseContentPartDoneEvent,
  ResponseCreatedEvent,
  ResponseDoneEvent,
  ResponseOutputItemAddedEvent,
  ResponseOutputItemDoneEvent,
} from 'openai/resources/realtime/realtime';
import { openaiId } from './ids.ts';
import { bytesToDuration } from './mulaw.ts';

/** 100 ms of μ-law per `response.output_audio.delta`, like the real API's audio chunks. */
export const AUDIO_DELTA_BYTES = 800;
const AUDIO_DELTA_MS = 100;

/**
 * 'realtime': one audio delta per 100 ms of audio (and 100 ms between a function call's
 * argument deltas); 'instant': as fast as the socket takes them.
 */
export type Pace = 'realtime' | 'instant';

/** What the agent says in one response: its words and their μ-law audio. */
export interface Reply {
  text: string;
  audio: Buffer;
}

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

export interface ResponseStreamOptions {
  reply: Reply;
  pace: Pace;
  conversationId: string;
  /** The item the assistant message follows in the conversation, if any. */
  previousItemId: string | null;
  voice: string;
  send: (event: RealtimeServerEvent) => void;
  /** Called once, after `response.done` was sent. */
  onDone: (outcome: ResponseOutcome) => void;
}

/**
 * Streams one assistant audio response in the GA event order: `response.created`, the item
 * and content part, transcript and audio deltas interleaved (transcript words first, so the
 * text never trails the audio it describes), then the `*.done` events and `response.done`.
 *
 * Invariants: after `response.done` nothing more is sent and no timer is left; `cancel()`
 * stops the deltas where they are and closes the response as `cancelled`.
 */
export class ResponseStream implements ActiveResponse {
  readonly responseId = openaiId('resp');
  readonly itemId = openaiId('item');
  /** The assistant message as last reported: in progress, then completed or incomplete with its transcript. */
  item: RealtimeConversationItemAssistantMessage;
  #options: ResponseStreamOptions;
  #words: string[];
  #wordsSent = 0;
  #bytesSent = 0;
  #cancelTimer: (() => void) | undefined;
  #done = false;

  constructor(options: ResponseStreamOptions) {
    this.#options = options;
    this.#words = options.reply.text.match(/\s*\S+/g) ?? [];
    this.item = this.#item('in_progress', []);
  }

  /** Milliseconds of audio sent so far; what a client can have played at most. */
  get audioSentMs(): number {
    return bytesToDuration(this.#bytesSent);
  }

  /** True once `response.done` was sent. */
  get done(): boolean {
    return this.#done;
  }

  /** Sends the opening events and starts the deltas. */
  start(): void {
    const { send, previousItemId } = this.#options;
    send({ type: 'response.created', event_id: openaiId('event'), response: this.#response('in_progress', []) } satisfies ResponseCreatedEvent);
    const item = this.item;
    send({ type: 'response.output_item.added', event_id: openaiId('event'), response_id: this.responseId, output_index: 0, item } satisfies ResponseOutputItemAddedEvent);
    send({ type: 'conversation.item.added', event_id: openaiId('event'), previous_item_id: previousItemId, item } satisfies ConversationItemAdded);
    send({
      type: 'response.content_part.added',
      event_id: openaiId('event'),
      response_id: this.responseId,
      item_id: this.itemId,
      output_index: 0,
      content_index: 0,
      part: { type: 'audio', transcript: '' },
    } satisfies ResponseContentPartAddedEvent);
    this.#sendChunk();
  }

  /** Stops the response where it is and reports it `cancelled`; no-op once done. */
  cancel(reason: 'turn_detected' | 'client_cancelled'): void {
    if (this.#done) return;
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    this.#finish({ status: 'cancelled', reason });
  }

  /** Stops without sending anything more: the socket is gone. */
  abandon(): void {
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    this.#done = true;
  }

  #sendChunk(): void {
    this.#cancelTimer = undefined;
    if (this.#done) return;
    const { audio } = this.#options.reply;
    const chunks = Math.max(1, Math.ceil(audio.length / AUDIO_DELTA_BYTES));
    const chunkIndex = Math.ceil(this.#bytesSent / AUDIO_DELTA_BYTES);
    const wordsBy = Math.ceil(((chunkIndex + 1) * this.#words.length) / chunks);
    const ids = { response_id: this.responseId, item_id: this.itemId, output_index: 0, content_index: 0 };
    while (this.#wordsSent < wordsBy) {
      const delta = this.#words[this.#wordsSent++] ?? '';
      this.#options.send({ type: 'response.output_audio_transcript.delta', event_id: openaiId('event'), ...ids, delta } satisfies ResponseAudioTranscriptDeltaEvent);
    }
    const slice = audio.subarray(this.#bytesSent, this.#bytesSent + AUDIO_DELTA_BYTES);
    if (slice.length > 0) {
      this.#bytesSent += slice.length;
      this.#options.send({ type: 'response.output_audio.delta', event_id: openaiId('event'), ...ids, delta: slice.toString('base64') } satisfies ResponseAudioDeltaEvent);
    }
    if (this.#bytesSent >= audio.length && this.#wordsSent >= this.#words.length) {
      this.#finish({ status: 'completed' });
    } else {
      this.#cancelTimer = scheduleDelta(this.#options.pace, () => this.#sendChunk());
    }
  }

  #finish(outcome: ResponseOutcome): void {
    this.#done = true;
    const { send } = this.#options;
    const ids = { response_id: this.responseId, item_id: this.itemId, output_index: 0, content_index: 0 };
    const transcript = this.#words.slice(0, this.#wordsSent).join('').trim();
    const itemStatus = outcome.status === 'completed' ? 'completed' : 'incomplete';
    const item = this.#item(itemStatus, [{ type: 'output_audio', transcript }]);
    this.item = item;
    send({ type: 'response.output_audio.done', event_id: openaiId('event'), ...ids } satisfies ResponseAudioDoneEvent);
    send({ type: 'response.output_audio_transcript.done', event_id: openaiId('event'), ...ids, transcript } satisfies ResponseAudioTranscriptDoneEvent);
    send({ type: 'response.content_part.done', event_id: openaiId('event'), ...ids, part: { type: 'audio', transcript } } satisfies ResponseContentPartDoneEvent);
    send({ type: 'response.output_item.done', event_id: openaiId('event'), response_id: this.responseId, output_index: 0, item } satisfies ResponseOutputItemDoneEvent);
    send({ type: 'conversation.item.done', event_id: openaiId('event'), previous_item_id: this.#options.previousItemId, item } satisfies ConversationItemDone);
    const response = this.#response(outcome.status, [item]);
    if (outcome.status === 'cancelled') response.status_details = { type: 'cancelled', reason: outcome.reason };
    response.usage = this.#usage();
    send({ type: 'response.done', event_id: openaiId('event'), response } satisfies ResponseDoneEvent);
    this.#options.onDone(outcome);
  }

  #item(status: 'in_progress' | 'completed' | 'incomplete', content: RealtimeConversationItemAssistantMessage.Content[]): RealtimeConversationItemAssistantMessage {
    return { id: this.itemId, object: 'realtime.item', type: 'message', status, role: 'assistant', content };
  }

  #response(status: NonNullable<RealtimeResponse['status']>, output: RealtimeConversationItemAssistantMessage[]): RealtimeResponse {
    return responseResource({ id: this.responseId, status, output, conversationId: this.#options.conversationId, voice: this.#options.voice });
  }

  /** Plausible token counts: about 20 audio tokens per second of audio, one text token per word. */
  #usage(): NonNullable<RealtimeResponse['usage']> {
    const audioTokens = Math.ceil(this.audioSentMs / 50);
    const textTokens = this.#wordsSent;
    return {
      total_tokens: audioTokens + textTokens,
      input_tokens: 0,
      output_tokens: audioTokens + textTokens,
      input_token_details: { text_tokens: 0, audio_tokens: 0, cached_tokens: 0 },
      output_token_details: { text_tokens: textTokens, audio_tokens: audioTokens },
    };
  }
}

/**
 * Runs `next` one delta later at `pace` and returns what cancels it. 'instant' still
 * yields to the event loop, so client events (a barge-in, a cancel) interleave.
 */
export function scheduleDelta(pace: Pace, next: () => void): () => void {
  if (pace === 'realtime') {
    const timeout = setTimeout(next, AUDIO_DELTA_MS);
    return () => clearTimeout(timeout);
  }
  const immediate = setImmediate(next);
  return () => clearImmediate(immediate);
}

/** The `response` object of `response.created` and `response.done`. */
export function responseResource(fields: {
  id: string;
  status: NonNullable<RealtimeResponse['status']>;
  output: ConversationItem[];
  conversationId: string;
  voice: string;
}): RealtimeResponse {
  return {
    object: 'realtime.response',
    id: fields.id,
    status: fields.status,
    output: fields.output,
    conversation_id: fields.conversationId,
    output_modalities: ['audio'],
    max_output_tokens: 'inf',
    audio: { output: { format: { type: 'audio/pcmu' }, voice: fields.voice } },
    metadata: null,
  };
}
