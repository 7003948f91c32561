import type { ConversationItem, ConversationItemTruncatedEvent, RealtimeError, RealtimeServerEvent } from 'openai/resources/realtime/realtime';
import { openaiId } from './ids.ts';
import type { ClientEventOf } from './openai-realtime.client-events.ts';

/** A `conversation.item.truncate` the stand-in accepted. */
export type Truncation = Pick<ConversationItemTruncatedEvent, 'item_id' | 'content_index' | 'audio_end_ms'>;

/** Model output audio an item holds: how much of it the client has been sent. */
interface SentAudio {
  readonly audioSentMs: number;
}

/**
 * The session's default conversation: its items in order, and the client events that
 * read and edit them (create, truncate, delete, retrieve), answered as the GA API does.
 *
 * Invariant: every item id handed out is a key of `#items` until the client deletes it.
 */
export class Conversation {
  readonly id = openaiId('conv');
  #items = new Map<string, { item: ConversationItem; audio?: SentAudio; inputAudioMs?: number }>();
  #send: (event: RealtimeServerEvent) => void;
  #error: (error: Omit<RealtimeError, 'type'>, clientEventId?: string) => void;

  constructor(io: { send: (event: RealtimeServerEvent) => void; error: (error: Omit<RealtimeError, 'type'>, clientEventId?: string) => void }) {
    this.#send = io.send;
    this.#error = io.error;
  }

  /** The id of the last item, or null while the conversation is empty. */
  get lastItemId(): string | null {
    let last: string | null = null;
    for (const id of this.#items.keys()) last = id;
    return last;
  }

  /** True once the model has spoken (its voice can no longer change). */
  get hasAssistantAudio(): boolean {
    return [...this.#items.values()].some((entry) => entry.audio);
  }

  /** Appends an item; `audio` for model output audio, which the client may truncate. */
  add(itemId: string, item: ConversationItem, audio?: SentAudio): void {
    this.#items.set(itemId, { item, audio });
  }

  /** Appends the caller's committed audio as a user item holding `ms` of audio. */
  addUserAudio(itemId: string, item: ConversationItem, ms: number): void {
    this.#items.set(itemId, { item, inputAudioMs: ms });
  }

  /**
   * What a response reads (its input tokens): the instructions and every item's text, at
   * about four characters a token, and every item's audio — the caller's at one token per
   * 100 ms, the model's at one per 50 ms, as OpenAI counts Realtime audio.
   */
  inputTokens(instructions: string): { text: number; audio: number } {
    let characters = instructions.length;
    let audio = 0;
    for (const { item, audio: sent, inputAudioMs } of this.#items.values()) {
      if (inputAudioMs !== undefined) audio += Math.ceil(inputAudioMs / 100);
      else if (sent) audio += Math.ceil(sent.audioSentMs / 50);
      else characters += JSON.stringify(item).length;
    }
    return { text: Math.ceil(characters / 4), audio };
  }

  /** Replaces an item's reported state in place; no-op once the client deleted it. */
  update(itemId: string, item: ConversationItem): void {
    const entry = this.#items.get(itemId);
    if (entry) entry.item = item;
  }

  /**
   * `conversation.item.create`: adds the client's item and answers `conversation.item.added`
   * and `conversation.item.done`. A `function_call_output` must answer a `function_call`
   * in the conversation, as the API checks. Returns the item, or undefined after an error.
   */
  create(event: ClientEventOf<'conversation.item.create'>): ConversationItem | undefined {
    if (event.previous_item_id !== undefined && event.previous_item_id !== 'root' && !this.#items.has(event.previous_item_id)) {
      this.#itemNotFound(event.previous_item_id, 'previous_item_id', event.event_id);
      return undefined;
    }
    if (event.item.type === 'function_call_output' && !this.#hasFunctionCall(event.item.call_id)) {
      this.#error({ code: 'invalid_value', message: `Tool call ID '${event.item.call_id}' not found in conversation.`, param: 'item.call_id' }, event.event_id);
      return undefined;
    }
    const id = event.item.id ?? openaiId('item');
    const item = { ...event.item, id, object: 'realtime.item', status: 'completed' } as ConversationItem;
    const previousItemId = event.previous_item_id ?? this.lastItemId;
    this.#items.set(id, { item });
    this.#send({ type: 'conversation.item.added', event_id: openaiId('event'), previous_item_id: previousItemId, item });
    this.#send({ type: 'conversation.item.done', event_id: openaiId('event'), previous_item_id: previousItemId, item });
    return item;
  }

  /** `conversation.item.truncate` of model output audio; returns the truncation, or undefined after an error. */
  truncate(event: ClientEventOf<'conversation.item.truncate'>): Truncation | undefined {
    const entry = this.#items.get(event.item_id);
    if (!entry) {
      this.#itemNotFound(event.item_id, 'item_id', event.event_id);
      return undefined;
    }
    if (!entry.audio) {
      this.#error({ code: 'invalid_value', message: 'Only model output audio messages can be truncated.', param: 'item_id' }, event.event_id);
      return undefined;
    }
    // The client cannot have played audio it was never sent.
    const sentMs = entry.audio.audioSentMs;
    if (event.audio_end_ms > sentMs) {
      this.#error({ code: 'invalid_value', message: `Audio content of ${sentMs}ms is already shorter than ${event.audio_end_ms}ms.`, param: 'audio_end_ms' }, event.event_id);
      return undefined;
    }
    const truncation = { item_id: event.item_id, content_index: event.content_index, audio_end_ms: event.audio_end_ms };
    this.#send({ type: 'conversation.item.truncated', event_id: openaiId('event'), ...truncation });
    return truncation;
  }

  /** `conversation.item.delete`. */
  delete(event: ClientEventOf<'conversation.item.delete'>): void {
    if (!this.#items.delete(event.item_id)) return this.#itemNotFound(event.item_id, 'item_id', event.event_id);
    this.#send({ type: 'conversation.item.deleted', event_id: openaiId('event'), item_id: event.item_id });
  }

  /** `conversation.item.retrieve`. */
  retrieve(event: ClientEventOf<'conversation.item.retrieve'>): void {
    const entry = this.#items.get(event.item_id);
    if (!entry) return this.#itemNotFound(event.item_id, 'item_id', event.event_id);
    this.#send({ type: 'conversation.item.retrieved', event_id: openaiId('event'), item: entry.item });
  }

  /** True when a `function_call` item with this call id (the model's or the client's) is in the conversation. */
  #hasFunctionCall(callId: string): boolean {
    return [...this.#items.values()].some(({ item }) => item.type === 'function_call' && item.call_id === callId);
  }

  #itemNotFound(itemId: string, param: string, eventId: string | undefined): void {
    this.#error({ code: 'item_not_found', message: `Conversation item with id '${itemId}' not found.`, param }, eventId);
  }
}
