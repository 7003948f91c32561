import { fixtureText, loadFixture } from './fixtures.ts';
import { tone } from './mulaw.ts';
import type { Reply } from './openai-realtime.response.ts';
import { newCallId, type ToolCall } from './openai-realtime.tool-call.ts';

/**
 * A function call the model makes. Object `arguments` are sent JSON-encoded; a string is
 * sent as is (so a test can send invalid JSON). Without `callId`, the call gets a fresh
 * `call_…` id.
 */
export interface ScriptedToolCall {
  name: string;
  arguments: Record<string, unknown> | string;
  callId?: string;
}

/** One output item of a response: speech (a 440 Hz tone, 250 ms a word, without `audio`), or a function call. */
export type ScriptedOutput = { text: string; audio?: Buffer } | { toolCall: ScriptedToolCall };

/** Why a response ended `incomplete`, as `status_details.reason` says. */
export type IncompleteReason = 'max_output_tokens' | 'content_filter';

/**
 * Why a response failed, as `status_details.error` says. Every field has a default: a
 * rate limit (`type` 'tokens', `code` 'rate_limit_exceeded', OpenAI's message with
 * "Please try again in {resetSeconds}s", `resetSeconds` 1.2).
 */
export interface ScriptedFailure {
  type?: string;
  code?: string;
  message?: string;
  /** When the limit resets; in the default message and in `rate_limits.updated`. */
  resetSeconds?: number;
}

/**
 * One response as the script has it:
 * - `{ text }` speaks; with `incomplete` it stops about halfway and ends `incomplete`;
 * - `{ toolCall }` makes one function call;
 * - `{ output: [...] }` carries several items in order: a spoken preamble and one or more
 *   function calls (parallel tool calls), as the reasoning models do; `incomplete` cuts the
 *   last item about halfway;
 * - `{ fail }` ends `failed` with no output.
 */
export type ScriptedReply =
  | { text: string; audio?: Buffer; incomplete?: IncompleteReason }
  | { toolCall: ScriptedToolCall }
  | { output: ScriptedOutput[]; incomplete?: IncompleteReason }
  | { fail: ScriptedFailure };

/** An output item as the session plays it. */
export type QueuedOutput = { speech: Reply } | { toolCall: ToolCall };

/** A response as the session plays it: its output items, and how it ends if not `completed`. */
export interface QueuedReply {
  output: QueuedOutput[];
  incomplete?: IncompleteReason;
  fail?: ScriptedFailure;
}

/**
 * What a stand-in session "says" and "hears": the agent's replies, one per response in
 * order, and the transcripts of the caller's turns, one per committed user audio item.
 */
export interface SessionScript {
  /** Agent replies, one per response (see ScriptedReply). */
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
    return this.#replies.shift() ?? { output: [{ speech: defaultReply() }] };
  }

  /** The next caller transcript. */
  nextCallerTranscript(): string {
    return this.#callerTranscripts.shift() ?? INAUDIBLE;
  }
}

/** The speech of an unscripted response: the agent greeting fixture. */
export function defaultReply(): Reply {
  return { text: fixtureText('agent-greeting'), audio: loadFixture('agent-greeting') };
}

function queued(reply: ScriptedReply): QueuedReply {
  if ('fail' in reply) return { output: [], fail: reply.fail };
  if ('output' in reply) return { output: reply.output.map(queuedOutput), incomplete: reply.incomplete };
  if ('toolCall' in reply) return { output: [queuedOutput(reply)] };
  return { output: [queuedOutput(reply)], incomplete: reply.incomplete };
}

function queuedOutput(output: ScriptedOutput): QueuedOutput {
  if ('toolCall' in output) {
    const { name, arguments: args, callId } = output.toolCall;
    return { toolCall: { name, arguments: typeof args === 'string' ? args : JSON.stringify(args), callId: callId ?? newCallId() } };
  }
  return { speech: { text: output.text, audio: output.audio ?? spokenAsTone(output.text) } };
}

function spokenAsTone(text: string): Buffer {
  const words = text.split(/\s+/).filter(Boolean).length;
  return tone(Math.max(500, words * 250));
}
