import type { ConversationItemCreateEvent } from 'openai/resources/realtime/realtime';

/**
 * Items the agent added while its OpenAI session was not ready (reconnecting), held for the
 * new session. A function call's output is not replayed: it names a call the new session
 * never saw (OpenAI refuses it: "Tool call ID … not found in conversation"), and the
 * restored conversation (session-restore.ts) already tells the tool's answer, from the
 * call's timeline. (Responses asked for meanwhile wait in the ResponseQueue; the session
 * merges them into one when it resumes.)
 *
 * Unbounded on purpose: the reconnect that holds them lasts at most a few seconds, and
 * what fills it (supervisors' whispers, key presses) comes at human pace.
 */
export class HeldClientEvents {
  #items: ConversationItemCreateEvent[] = [];

  hold(event: ConversationItemCreateEvent): void {
    if (event.item.type !== 'function_call_output') this.#items.push(event);
  }

  /** The items for the resumed session, in order; empties the hold. */
  takeForResumedSession(): ConversationItemCreateEvent[] {
    return this.#items.splice(0);
  }
}
