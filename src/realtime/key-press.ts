import type { ConversationItemCreateEvent } from 'openai/resources/realtime/realtime';

/**
 * Keys the caller presses on their phone (DTMF, Twilio's `dtmf` message). The model hears
 * no tones — μ-law of a key press is noise to it — so each key reaches it as a message.
 */

/** The key that hands the call to a person, when the business has a transfer number. */
export const transferKey = '0';

/**
 * What the agent is told when the caller presses `digit`: a system message (the caller did
 * not say it), followed by a response so the agent acts on it.
 */
export function keyPressedItem(digit: string): ConversationItemCreateEvent {
  return {
    type: 'conversation.item.create',
    item: {
      type: 'message',
      role: 'system',
      content: [{ type: 'input_text', text: `The caller pressed the key ${digit} on their phone keypad. Treat it as their answer if you asked for one; otherwise acknowledge it briefly and go on.` }],
    },
  };
}
