import { fixtureText, loadFixture } from './fixtures.ts';
import { tone } from './mulaw.ts';
import type { Reply } from './openai-realtime.response.ts';
import { newCallId, type ToolCall } from './openai-realtime.tool-call.ts';

/**
 * A function call the model makes instead of speaking. Object `arguments` are sent
 * JSON-encoded; a string is sent as is (so a test can send invalid JSON). Without
 * `callId`, the call gets a fresh `call_…` id.
 */
export interface ScriptedToolCall {
  name: string;
  arguments: Record<string, unknown> | string;
  callId?: string;
}

/** One response's output: speech, or a function call. */
export type ScriptedReply = { text: string; audio?: Buffer } | { toolCall: ScriptedToolCall };

/** A response's output as the session plays it. */
export type QueuedReply = Reply | { toolCall: ToolCall };

/**
 * What a stand-in session "says" and "hears": the agent's replies, one per response in
 * order, and the transcripts of the caller's turns, one per committed user audio item.
 */
export interface SessionScript {
  /**
   * Agent replies, one per response. Speech without `audio` is spoken as a 440 Hz tone,
   * 250 ms a word; a `toolCall` makes the response a function call.
   */
  replies?: ScriptedReply[];
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
  #replies: QueuedReply[] = [];
  #callerTranscripts: string[] = [];

  /** Replaces what is left of the script with `script`'s lists (a list left out is kept). */
  set(script: SessionScript): void {
    if (script.replies) this.#replies = script.replies.map(queued);
    if (script.callerTranscripts) this.#callerTranscripts = [...script.callerTranscripts];
  }

  /** The next agent reply. */
  nextReply(): QueuedReply {
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

function queued(reply: ScriptedReply): QueuedReply {
  if ('toolCall' in reply) {
    const { name, arguments: args, callId } = reply.toolCall;
    return { toolCall: { name, arguments: typeof args === 'string' ? args : JSON.stringify(args), callId: callId ?? newCallId() } };
  }
  return { text: reply.text, audio: reply.audio ?? spokenAsTone(reply.text) };
}

function spokenAsTone(text: string): Buffer {
  const words = text.split(/\s+/).filter(Boolean).length;
  return tone(Math.max(500, words * 250));
}
