import type {
  ConversationItemAdded,
  ConversationItemDone,
  ConversationItemInputAudioTranscriptionCompletedEvent,
  ConversationItemInputAudioTranscriptionDeltaEvent,
  InputAudioBufferCommittedEvent,
  RealtimeConversationItemUserMessage,
  RealtimeServerEvent,
} from 'openai/resources/realtime/realtime';
import { openaiId } from './ids.ts';

/**
 * The events of committing the input audio buffer, in GA order: `input_audio_buffer.committed`,
 * the user message item (`conversation.item.added`, then `conversation.item.done`) and —
 * only when the session asked for input transcription — its transcript, streamed word by
 * word as the gpt-4o-transcribe models do, then `completed` with the whole text.
 */
export function userAudioTurn(turn: {
  itemId: string;
  previousItemId: string | null;
  /** undefined when the session does not transcribe input audio. */
  transcript: string | undefined;
  seconds: number;
}): { item: RealtimeConversationItemUserMessage; events: RealtimeServerEvent[] } {
  const { itemId, previousItemId, transcript } = turn;
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
  if (transcript === undefined) return { item, events };
  for (const delta of transcript.match(/\s*\S+/g) ?? []) {
    events.push({
      type: 'conversation.item.input_audio_transcription.delta',
      event_id: openaiId('event'),
      item_id: itemId,
      content_index: 0,
      delta,
    } satisfies ConversationItemInputAudioTranscriptionDeltaEvent);
  }
  // The item events go out before transcription finishes, so only the stored item has it.
  events.push({
    type: 'conversation.item.input_audio_transcription.completed',
    event_id: openaiId('event'),
    item_id: itemId,
    content_index: 0,
    transcript,
    usage: { type: 'duration', seconds: Math.round(turn.seconds * 10) / 10 },
  } satisfies ConversationItemInputAudioTranscriptionCompletedEvent);
  return { item: { ...item, content: [{ type: 'input_audio', transcript }] }, events };
}
