import type { ConversationItemCreateEvent } from 'openai/resources/realtime/realtime';
import { toolResultNote } from './agent-lines.ts';

/**
 * Items the agent added while its OpenAI session was not ready (reconnecting), held for the
 * new session. The new session knows the call only from a summary, so they cannot all be
 * replayed as they were: a function call's output names a call the new session never saw
 * (OpenAI refuses it: "Tool call ID … not found in conversation"), so it becomes a system
 * message. (Responses asked for meanwhile wait in the ResponseQueue; the session merges them
 * into one when it resumes.)
 *
 * Unbounded on purpose: the reconnect that holds them lasts at most a few seconds, and
 * what fills it (tool results, supervisors' whispers) comes at human pace.
 */
export class HeldClientEvents {
  #items: ConversationItemCreateEvent[] = [];

  hold(event: ConversationItemCreateEvent): void {
    this.#items.push(event);
  }

  /** The items for the resumed session, in order; empties the hold. */
  takeForResumedSession(): ConversationItemCreateEvent[] {
    const items = this.#items.map(asResumedItem);
    this.#items = [];
    return items;
  }
}

/** A held item as the resumed session can take it: a tool's output becomes a system message. */
function asResumedItem(event: ConversationItemCreateEvent): ConversationItemCreateEvent {
  if (event.item.type !== 'function_call_output') return event;
  return toolResultNote(event.item.output);
}
