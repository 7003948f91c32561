import type { ConversationItemTruncateEvent, SessionUpdateEvent } from 'openai/resources/realtime/realtime';
import type { CallContext } from '../call-context.ts';
import { toolDefinitions } from '../agent/tools/definitions.ts';

/**
 * The OpenAI Realtime client events this bridge sends, typed with the SDK's own event
 * types. Server events are parsed in openai-realtime.server-events.ts.
 */

/** The session this bridge opens: μ-law both ways (no transcoding), server VAD, transcription. */
export function sessionUpdate(context: CallContext, transcriptionModel: string): SessionUpdateEvent {
  return {
    type: 'session.update',
    session: {
      type: 'realtime',
      instructions: context.instructions,
      output_modalities: ['audio'],
      tools: toolDefinitions,
      tool_choice: 'auto',
      audio: {
        input: {
          format: { type: 'audio/pcmu' },
          turn_detection: { type: 'server_vad', create_response: true, interrupt_response: true },
          transcription: { model: transcriptionModel, language: context.settings.language },
        },
        output: { format: { type: 'audio/pcmu' }, voice: context.settings.voice },
      },
    },
  };
}

export function truncateEvent(itemId: string, audioEndMs: number): ConversationItemTruncateEvent {
  return { type: 'conversation.item.truncate', item_id: itemId, content_index: 0, audio_end_ms: audioEndMs };
}

/** `input_audio_buffer.append`, assembled around the caller's base64 payload untouched. */
export function appendAudioMessage(payload: string): string {
  return `{"type":"input_audio_buffer.append","audio":"${payload}"}`;
}
