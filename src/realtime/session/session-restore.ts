import type { ConversationItemCreateEvent } from 'openai/resources/realtime/realtime';
import type { AgentEvent, CallEvent, TranscriptTurn } from '../../core/events.ts';
import { restoredToolNote, restoredSessionNote } from '../agent/agent-lines.ts';

/**
 * The conversation so far as items a NEW OpenAI session takes — for a session rolled over
 * before OpenAI's cap, one that expired, or one that was lost. Not a summary: each turn is
 * its own message (the caller's as `user` text, the agent's as `assistant` text, trimmed to
 * what the caller heard), and each tool the model ran is a system note of what it was
 * asked and answered, all in the order they happened. Audio is not restored (OpenAI takes
 * no audio for assistant items, and the words are what the model needs).
 */
export function restoredConversation(turns: readonly TranscriptTurn[], timeline: readonly (CallEvent | AgentEvent)[]): ConversationItemCreateEvent[] {
  const calls = new Map<string, string>();
  const entries: { at: string; item: ConversationItemCreateEvent }[] = [];
  for (const event of timeline) {
    if (event.type === 'tool.called') calls.set(event.toolCallId, event.arguments);
    if (event.type === 'tool.result') entries.push({ at: event.at, item: restoredToolNote(event.name, calls.get(event.toolCallId) ?? '', JSON.stringify(event.output)) });
  }
  for (const turn of turns) entries.push({ at: turn.at, item: turnItem(turn) });
  // Stable: a tool's note stays after the turn that asked for it when both carry one instant.
  entries.sort((a, b) => a.at.localeCompare(b.at));
  return [restoredSessionNote(), ...entries.map((entry) => entry.item)];
}

function turnItem(turn: TranscriptTurn): ConversationItemCreateEvent {
  return turn.speaker === 'agent'
    ? { type: 'conversation.item.create', item: { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: turn.text }] } }
    : { type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: turn.text }] } };
}
