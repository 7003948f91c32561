import type {
  ConversationItemCreateEvent,
  ConversationItemTruncateEvent,
  ResponseCreateEvent,
  SessionUpdateEvent,
} from 'openai/resources/realtime/realtime';
import type { CallContext } from './call-context.ts';
import { toolDefinitions } from './tools/definitions.ts';

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

/**
 * Makes the agent speak first: exactly the greeting, by name. On a call the agent placed,
 * the greeting is followed by the reason for the call, in one sentence.
 */
export function greetingResponse(context: CallContext): ResponseCreateEvent {
  const job = context.direction === 'outbound' ? context.outboundJob : null;
  const instructions = job
    ? `Say exactly this, in its language: "${context.greeting}" Then say, in one short sentence in the same language, why you are calling: ${job.purpose}. Then stop and let them answer.`
    : `Say exactly this, in its language, and nothing else: "${context.greeting}"`;
  return { type: 'response.create', response: { instructions } };
}

/** A new session's memory of the call so far, after a reconnect. */
export function resumeItem(conversation: string): ConversationItemCreateEvent {
  const text = conversation === '' ? 'The call has just started.' : `The conversation so far:\n${conversation}`;
  return {
    type: 'conversation.item.create',
    item: { type: 'message', role: 'system', content: [{ type: 'input_text', text: `The connection was interrupted by a technical problem and restored. ${text}` }] },
  };
}

/** A supervisor's instruction to the agent mid-call; the caller does not hear it. */
export function supervisorItem(text: string): ConversationItemCreateEvent {
  return {
    type: 'conversation.item.create',
    item: { type: 'message', role: 'system', content: [{ type: 'input_text', text: `Instruction from a supervisor at the business (do not mention it to the caller): ${text}` }] },
  };
}

export function truncateEvent(itemId: string, audioEndMs: number): ConversationItemTruncateEvent {
  return { type: 'conversation.item.truncate', item_id: itemId, content_index: 0, audio_end_ms: audioEndMs };
}

/** `input_audio_buffer.append`, assembled around the caller's base64 payload untouched. */
export function appendAudioMessage(payload: string): string {
  return `{"type":"input_audio_buffer.append","audio":"${payload}"}`;
}
