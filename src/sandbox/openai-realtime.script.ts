import { fixtureText, loadFixture } from './fixtures.ts';
import { tone } from './mulaw.ts';
import type { Reply } from './openai-realtime.response.ts';

/**
 * What a stand-in session "says" and "hears": the agent's replies, one per response in
 * order, and the transcripts of the caller's turns, one per committed user audio item.
 */
export interface SessionScript {
  /** Agent replies; a reply without `audio` is spoken as a 440 Hz tone, 250 ms a word. */
  replies?: { text: string; audio?: Buffer }[];
  /** Transcripts of the caller's turns, in order. */
  callerTranscripts?: string[];
}

/** Transcript of a caller turn once the script has none left. */
export const INAUDIBLE = '(inaudible)';

/**
 * The queues a session consumes. When the replies run out, every further response is the
 * Hebrew greeting fixture, so an unscripted session still greets the caller.
 */
export class ScriptQueue {
  #replies: Reply[] = [];
  #callerTranscripts: string[] = [];

  /** Replaces what is left of the script with `script`'s lists (a list left out is kept). */
  set(script: SessionScript): void {
    if (script.replies) this.#replies = script.replies.map((reply) => ({ text: reply.text, audio: reply.audio ?? spokenAsTone(reply.text) }));
    if (script.callerTranscripts) this.#callerTranscripts = [...script.callerTranscripts];
  }

  /** The next agent reply. */
  nextReply(): Reply {
    return this.#replies.shift() ?? defaultReply();
  }

  /** The next caller transcript. */
  nextCallerTranscript(): string {
    return this.#callerTranscripts.shift() ?? INAUDIBLE;
  }
}

/** The reply of an unscripted response: the agent greeting fixture. */
export function defaultReply(): Reply {
  return { text: fixtureText('agent-greeting'), audio: loadFixture('agent-greeting') };
}

function spokenAsTone(text: string): Buffer {
  const words = text.split(/\s+/).filter(Boolean).length;
  return tone(Math.max(500, words * 250));
}
