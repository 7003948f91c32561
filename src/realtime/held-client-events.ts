import type { ConversationItemCreateEvent, ResponseCreateEvent } from 'openai/resources/realtime/realtime';

/** What the agent and supervisors send the OpenAI session mid-call. */
export type AgentClientEvent = ResponseCreateEvent | ConversationItemCreateEvent;

/** What a resumed session is asked to say first when nothing else is waiting. */
export const resumeInstructions = 'Apologise in one short sentence for the interruption, then continue the conversation where it stopped.';

/**
 * Client events the agent sent while its OpenAI session was not ready (reconnecting), held
 * for the new session. The new session knows the call only from a summary, so they cannot
 * be replayed as they were: a function call's output names a call the new session never
 * saw (OpenAI refuses it: "Tool call ID … not found in conversation"), and each held
 * `response.create` would collide with the next ("conversation already has an active
 * response"). `takeForResumedSession` turns them into what the new session understands:
 * the items first — a tool's result as a system message — then ONE response that
 * apologises and then does what the last held response asked for (a reprompt, a goodbye).
 *
 * Unbounded on purpose: the reconnect that holds them lasts at most a few seconds, and
 * what fills it (timers, tool results, supervisors' whispers) comes at human pace.
 */
export class HeldClientEvents {
  #items: ConversationItemCreateEvent[] = [];
  #responses: ResponseCreateEvent[] = [];

  hold(event: AgentClientEvent): void {
    if (event.type === 'response.create') this.#responses.push(event);
    else this.#items.push(event);
  }

  /** The events for the resumed session, in order, ending with its one response; empties the hold. */
  takeForResumedSession(): AgentClientEvent[] {
    const items = this.#items.map(asResumedItem);
    const asked = this.#responses.map((event) => event.response?.instructions).filter((text): text is string => Boolean(text));
    this.#items = [];
    this.#responses = [];
    const last = asked.at(-1);
    const instructions = last ? `Apologise in one short sentence for the interruption, then: ${last}` : resumeInstructions;
    return [...items, { type: 'response.create', response: { instructions } }];
  }
}

/** A held item as the resumed session can take it: a tool's output becomes a system message. */
function asResumedItem(event: ConversationItemCreateEvent): ConversationItemCreateEvent {
  if (event.item.type !== 'function_call_output') return event;
  return {
    type: 'conversation.item.create',
    item: {
      type: 'message',
      role: 'system',
      content: [{ type: 'input_text', text: `A tool you called before the interruption has answered: ${event.item.output}` }],
    },
  };
}
