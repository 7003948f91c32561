import type { ConversationItemTruncateEvent, RealtimeServerEvent, SessionUpdateEvent } from 'openai/resources/realtime/realtime';
import type { CallContext } from './call-context.ts';
import { toolDefinitions } from './tools/definitions.ts';
import { isBase64 } from './twilio-media.protocol.ts';

/**
 * The OpenAI Realtime protocol as this bridge speaks it, typed with the SDK's own event
 * types. Server events are parsed at the boundary: anything without a string `type`, or
 * an audio delta that is not base64, is rejected before it reaches the session.
 */

/** The server events the call session acts on; others are ignored. */
export type HandledServerEvent = Extract<
  RealtimeServerEvent,
  {
    type:
      | 'session.created'
      | 'session.updated'
      | 'response.output_audio.delta'
      | 'response.output_audio.done'
      | 'response.output_audio_transcript.delta'
      | 'response.output_audio_transcript.done'
      | 'conversation.item.input_audio_transcription.delta'
      | 'conversation.item.input_audio_transcription.completed'
      | 'input_audio_buffer.speech_started'
      | 'input_audio_buffer.speech_stopped'
      | 'response.done'
      | 'response.function_call_arguments.done'
      | 'error';
  }
>;

export type ServerEventParse = { ok: true; event: RealtimeServerEvent } | { ok: false };

export function parseServerEvent(raw: string): ServerEventParse {
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return { ok: false };
  }
  if (typeof data !== 'object' || data === null || typeof (data as { type?: unknown }).type !== 'string') return { ok: false };
  const event = data as RealtimeServerEvent;
  if (event.type === 'response.output_audio.delta' && (!isBase64(event.delta) || typeof event.item_id !== 'string')) {
    return { ok: false };
  }
  return { ok: true, event };
}

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
