import type {
  ConversationItemAdded,
  ConversationItemDone,
  InputAudioBufferCommittedEvent,
  RealtimeConversationItemUserMessage,
  RealtimeServerEvent,
} from 'openai/resources/realtime/realtime';
import { openaiId } from './ids.ts';

/**
 * The events of committing the input audio buffer, in GA order: `input_audio_buffer.committed`,
 * then the user message item (`conversation.item.added`, then `conversation.item.done`).
 * They go out at once; the transcript, when the session asked for one, comes later
 * (`openai-realtime.input-transcription.ts`), so the item carries none.
 */
export function userAudioTurn(turn: { itemId: string; previousItemId: string | null }): { item: RealtimeConversationItemUserMessage; events: RealtimeServerEvent[] } {
  const { itemId, previousItemId } = turn;
  const item: RealtimeConversationItemUserMessage = {
    id: itemId,
    object: 'realtime.item',
    type: 'message',
    status: 'completed',
    role: 'user',
    content: [{ type: 'input_audio' }],
  };
  const events: RealtimeServerEvent[] = [
    { type: 'input_audio_buffer.committed', event_id: openaiId('event'), item_id: itemId, previous_item_id: previousItemId } satisfies InputAudioBufferCommittedEvent,
    { type: 'conversation.item.added', event_id: openaiId('event'), previous_item_id: previousItemId, item } satisfies ConversationItemAdded,
    { type: 'conversation.item.done', event_id: openaiId('event'), previous_item_id: previousItemId, item } satisfies ConversationItemDone,
  ];
  return { item, events };
}

/** The user item once its transcript is known, as `conversation.item.retrieve` reports it. */
export function transcribedUserItem(item: RealtimeConversationItemUserMessage, transcript: string): RealtimeConversationItemUserMessage {
  return { ...item, content: [{ type: 'input_audio', transcript }] };
}
