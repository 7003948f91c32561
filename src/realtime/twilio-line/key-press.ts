/**
 * Keys the caller presses on their phone (DTMF, Twilio's `dtmf` message). The model hears
 * no tones — μ-law of a key press is noise to it — so each key reaches it as a message (agent-lines.ts `keyPressNote`).
 */

/** The key that hands the call to a person, when the business has a transfer number. */
export const transferKey = '0';
