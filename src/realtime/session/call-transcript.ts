import type { TranscriptTurn } from '../../core/events.ts';
import { heardText } from './heard-text.ts';

/** The text of a caller turn whose transcription failed. */
export const inaudibleText = '[inaudible]';

/**
 * A call's turns for both speakers, keyed by OpenAI item id, as the realtime session
 * reports them. An agent turn the caller interrupted keeps only what was heard: trimmed
 * once — when its final transcript arrives, or at the end from the deltas received.
 */
export class CallTranscript {
  readonly #turns = new Map<string, TranscriptTurn>();
  /** Heard and total audio of interrupted agent turns not yet trimmed. */
  readonly #interrupted = new Map<string, { heardMs: number; audioMs: number }>();
  /** Caller turns whose transcript has not come yet (it comes asynchronously), with when they started (ms). */
  readonly #awaited = new Map<string, number>();

  /** The agent turn of `itemId`, created on first mention. */
  agent(itemId: string, at: string): TranscriptTurn {
    let turn = this.#turns.get(itemId);
    if (!turn) {
      turn = { speaker: 'agent', text: '', at };
      this.#turns.set(itemId, turn);
    }
    return turn;
  }

  /** The agent's final transcript of `itemId` (what was heard of it, when interrupted). */
  agentDone(itemId: string, transcript: string, at: string): TranscriptTurn {
    const turn = this.agent(itemId, at);
    const heard = this.#interrupted.get(itemId);
    this.#interrupted.delete(itemId);
    turn.text = heard ? heardText(transcript, heard.heardMs, heard.audioMs) : transcript;
    return turn;
  }

  /** The caller cut the agent's `itemId` short after `heardMs` of its `audioMs`. */
  interrupted(itemId: string, heardMs: number, audioMs: number): void {
    const turn = this.#turns.get(itemId);
    if (turn) turn.interrupted = true;
    this.#interrupted.set(itemId, { heardMs, audioMs });
  }

  callerStarted(itemId: string, at: string): void {
    this.#turns.set(itemId, { speaker: 'caller', text: '', at });
    this.#awaited.set(itemId, Date.parse(at));
  }

  /** A caller turn started within `withinMs` of `now` still waits for its transcript (which may come late). */
  awaitingCaller(now: number, withinMs: number): boolean {
    for (const startedAt of this.#awaited.values()) if (now - startedAt < withinMs) return true;
    return false;
  }

  /**
   * The session that was transcribing is gone: every caller turn still waiting for its
   * transcript is kept as inaudible (its words are lost, not the turn). Returns those turns.
   */
  abandonAwaited(at: string): { itemId: string; turn: TranscriptTurn }[] {
    return [...this.#awaited.keys()].map((itemId) => ({ itemId, turn: this.callerInaudible(itemId, at) }));
  }

  /**
   * The caller's `itemId` could not be transcribed: the turn is kept — it happened, and
   * the agent answered it — with its words unknown.
   */
  callerInaudible(itemId: string, at: string): TranscriptTurn {
    const turn = this.callerDone(itemId, inaudibleText, at);
    turn.inaudible = true;
    return turn;
  }

  callerDone(itemId: string, transcript: string, at: string): TranscriptTurn {
    const turn = this.#turns.get(itemId) ?? { speaker: 'caller', text: '', at };
    this.#awaited.delete(itemId);
    turn.text = transcript.trim();
    this.#turns.set(itemId, turn);
    return turn;
  }

  /** The turns with text, in the order they started; pending trims applied. */
  turns(): TranscriptTurn[] {
    for (const [itemId, heard] of this.#interrupted) {
      const turn = this.#turns.get(itemId);
      if (turn) turn.text = heardText(turn.text, heard.heardMs, heard.audioMs);
    }
    this.#interrupted.clear();
    return [...this.#turns.values()].filter((turn) => turn.text !== '').sort((a, b) => a.at.localeCompare(b.at));
  }

  /** The turns with text so far, in the order they started, trimmed to what was heard — without trimming for good. */
  snapshot(): TranscriptTurn[] {
    return [...this.#turns.entries()]
      .map(([itemId, turn]) => {
        const heard = this.#interrupted.get(itemId);
        return heard ? { ...turn, text: heardText(turn.text, heard.heardMs, heard.audioMs) } : { ...turn };
      })
      .filter((turn) => turn.text !== '')
      .sort((a, b) => a.at.localeCompare(b.at));
  }
}
