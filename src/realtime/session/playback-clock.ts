import { performance } from 'node:perf_hooks';

/**
 * What the caller has heard of the agent, from Twilio's marks. Pure: no sockets, no timers;
 * the session tells it what went to Twilio and what came back, and acts on its answers.
 *
 * Twilio plays the agent's audio from a buffer, after network and jitter-buffer delay, so
 * what was *sent* is not what was *heard*. A mark sent after some audio comes back once
 * that audio has played; on `clear`, Twilio drops the unplayed audio and returns every
 * pending mark at once. So a mark goes out after every `markIntervalMs` of audio and at the
 * end of each item, and a returned mark says: everything before it has played.
 *
 * Positions are milliseconds of the agent's audio stream since the last interruption,
 * items back to back in the order they were sent.
 *
 * Invariants: `#pending` is in stream order, each mark at most `#sentMs`; `#playedMs` ≤
 * `#sentMs`; `#items` holds, in stream order, the items not yet known to have played
 * whole (not done, or audio after the last returned mark); after `interrupt()` no mark
 * sent before it counts (Twilio returns those on `clear`, unplayed).
 */

/** What to do with one chunk of agent audio. */
export interface ChunkPlan {
  /** False: its response was interrupted; the chunk must not reach the caller. */
  forward: boolean;
  /** The chunk is the first of its item: the agent starts saying it. */
  startsItem: boolean;
  /** The name of a mark to send right after the chunk, when one is due. */
  markAfter: string | undefined;
}

/** An item the caller did not hear to the end. */
export interface HeardItem {
  itemId: string;
  responseId: string;
  /** Audio of the item the caller heard (whole ms, at most `sentMs`): `audio_end_ms`. */
  heardMs: number;
  /** Audio of the item sent to Twilio. */
  sentMs: number;
}

/** What an interruption cut short. */
export interface Interruption {
  /** Every item with audio the caller did not hear, in the order they were sent (the first may be partly heard, the rest at 0). */
  items: HeardItem[];
  /** The responses whose audio is dropped from now on. */
  discardedResponseIds: string[];
}

export interface PlaybackClockOptions {
  /** A mark follows the chunk that brings the audio since the last mark to this much. Default `defaultMarkIntervalMs`. */
  markIntervalMs?: number;
  /** How long after the send clock's end a mark that never came is no longer waited for. Default 1000 ms. */
  lostMarkGraceMs?: number;
  /** A monotonic clock in ms. Default `performance.now`. */
  now?: () => number;
}

/**
 * 300 ms, about a word of speech. Each mark is one small message out and one back, about
 * the CPU of relaying one audio frame: 3.3 a second per call while the agent speaks, against
 * 100 frames relayed (bench:relay, the agent speaking all the time: +3–6 % CPU per call;
 * +5–8 % at 200 ms). The barge-in stays placed to within tens of ms: between marks, the
 * time since the last one came back counts too (see `interrupt`).
 */
export const defaultMarkIntervalMs = 300;

/** Response ids kept for dropping late audio: interrupted responses are sequential, so the last few suffice. */
const discardedKept = 16;

interface PlayingItem {
  readonly responseId: string;
  readonly itemId: string;
  /** Stream position of the item's first audio. */
  readonly startsAtMs: number;
  sentMs: number;
  /** `response.output_audio.done` arrived: no more audio for this item. */
  done: boolean;
}

interface PendingMark {
  readonly name: string;
  /** Stream position the mark follows. */
  readonly atMs: number;
}

// The two answers of nearly every chunk, shared: the audio path allocates nothing for them.
const dropped: ChunkPlan = Object.freeze({ forward: false, startsItem: false, markAfter: undefined });
const forwarded: ChunkPlan = Object.freeze({ forward: true, startsItem: false, markAfter: undefined });

/**
 * The playback clock of one call (see the file's comment). The session calls `chunk` for
 * each agent audio delta, `itemDone` for each `response.output_audio.done`, `markReturned`
 * for each mark Twilio returns and `interrupt` when the caller barges in.
 */
export class PlaybackClock {
  readonly #markIntervalMs: number;
  readonly #lostMarkGraceMs: number;
  readonly #now: () => number;
  #items: PlayingItem[] = [];
  /** The item the latest chunk belonged to, until it is done. */
  #current: PlayingItem | undefined;
  #sentMs = 0;
  /** Stream position of the last mark sent. */
  #markedMs = 0;
  #pending: PendingMark[] = [];
  /** Stream position Twilio confirmed played (the last returned mark's). */
  #playedMs = 0;
  /** When that mark came back; undefined until one has since the stream last went quiet. */
  #playedAt: number | undefined;
  #marks = 0;
  /** When everything sent would have played, had it played the moment it was sent (the send clock). */
  #sendEndsAt = 0;
  readonly #discarded = new Set<string>();

  constructor(options: PlaybackClockOptions = {}) {
    this.#markIntervalMs = options.markIntervalMs ?? defaultMarkIntervalMs;
    this.#lostMarkGraceMs = options.lostMarkGraceMs ?? 1000;
    this.#now = options.now ?? performance.now.bind(performance);
  }

  /** Nothing the agent said is left to play: every item sent is done and its marks came back. */
  get playedOut(): boolean {
    return this.#items.length === 0;
  }

  /**
   * How long to wait for the marks still out before taking the audio as played anyway (a
   * mark Twilio never returned): until the send clock's end, plus the grace.
   */
  lostMarkDeadlineMs(): number {
    return Math.max(0, this.#sendEndsAt - this.#now()) + this.#lostMarkGraceMs;
  }

  /** `ms` of audio of `itemId` (of `responseId`) is about to go to Twilio: whether it should, and what to send after it. */
  chunk(responseId: string, itemId: string, ms: number): ChunkPlan {
    if (this.#discarded.size > 0 && this.#discarded.has(responseId)) return dropped;
    this.#sendEndsAt = Math.max(this.#now(), this.#sendEndsAt) + ms;
    let item = this.#current;
    let startsItem = false;
    if (item?.itemId !== itemId) {
      item = { responseId, itemId, startsAtMs: this.#sentMs, sentMs: 0, done: false };
      this.#items.push(item);
      this.#current = item;
      startsItem = true;
    }
    item.sentMs += ms;
    this.#sentMs += ms;
    const markAfter = this.#sentMs - this.#markedMs >= this.#markIntervalMs ? this.#mark() : undefined;
    return startsItem || markAfter ? { forward: true, startsItem, markAfter } : forwarded;
  }

  /**
   * The audio of `itemId` is complete. Returns the name of a mark to send now — its return
   * says the item has played out — or undefined when none is needed (the item's audio was
   * dropped or never sent, or a mark already follows the last audio sent).
   */
  itemDone(itemId: string): string | undefined {
    const item = this.#items.findLast((candidate) => candidate.itemId === itemId);
    if (!item || item.done) return undefined;
    item.done = true;
    if (this.#current === item) this.#current = undefined;
    return this.#pending.at(-1)?.atMs === this.#sentMs ? undefined : this.#mark();
  }

  /**
   * Twilio returned the mark `name`: the audio before it has played (and before every mark
   * sent ahead of it: Twilio plays in order). Returns true when that leaves nothing to play
   * — the agent has stopped talking — once per stretch of speech. A mark sent before an
   * interruption, or unknown, is ignored.
   */
  markReturned(name: string): boolean {
    const index = this.#pending.findIndex((mark) => mark.name === name);
    if (index < 0) return false;
    const mark = this.#pending[index]!;
    this.#pending.splice(0, index + 1);
    this.#playedMs = mark.atMs;
    this.#playedAt = this.#now();
    const playing = this.#items.length > 0;
    let played = 0;
    for (const item of this.#items) {
      if (!item.done || item.startsAtMs + item.sentMs > this.#playedMs) break;
      played++;
    }
    if (played > 0) this.#items.splice(0, played);
    if (!playing || this.#items.length > 0) return false;
    // Quiet now: the next audio starts a new stretch, which no returned mark times yet.
    this.#playedAt = undefined;
    return true;
  }

  /**
   * The caller barged in: what they heard of each item not heard to the end, and which
   * responses to drop from now on (those items', and `activeResponseId` — the response in
   * progress, which OpenAI's server VAD cancels even before its first audio). Clears the
   * clock: Twilio is about to drop everything unplayed.
   *
   * Heard = the last returned mark's position, plus the time since it came back (audio
   * plays on at 1 ms per ms), but never past the next mark still out — Twilio has not
   * played that far — nor past the audio sent. Before any mark of the stretch has come
   * back, only what is confirmed counts (nothing of it). So the figure is at most one mark
   * interval short and, but for an underrun since the last mark, never more than was heard.
   */
  interrupt(activeResponseId?: string): Interruption {
    const heard = this.#heardPosition();
    const items: HeardItem[] = [];
    for (const item of this.#items) {
      const heardMs = Math.floor(Math.min(Math.max(heard - item.startsAtMs, 0), item.sentMs));
      // Done and heard whole: nothing of it was cut.
      if (item.done && heardMs >= Math.floor(item.sentMs)) continue;
      items.push({ itemId: item.itemId, responseId: item.responseId, heardMs, sentMs: item.sentMs });
    }
    const discardedResponseIds = [...new Set([...items.map((item) => item.responseId), ...(activeResponseId ? [activeResponseId] : [])])];
    for (const id of discardedResponseIds) this.#discard(id);
    this.#items = [];
    this.#current = undefined;
    this.#pending = [];
    this.#sentMs = 0;
    this.#markedMs = 0;
    this.#playedMs = 0;
    this.#playedAt = undefined;
    this.#sendEndsAt = this.#now();
    return { items, discardedResponseIds };
  }

  #heardPosition(): number {
    if (this.#playedAt === undefined) return this.#playedMs;
    const limit = this.#pending[0]?.atMs ?? this.#sentMs;
    return Math.max(this.#playedMs, Math.min(limit, this.#playedMs + (this.#now() - this.#playedAt)));
  }

  #mark(): string {
    const name = `agent-${++this.#marks}`;
    this.#pending.push({ name, atMs: this.#sentMs });
    this.#markedMs = this.#sentMs;
    return name;
  }

  #discard(responseId: string): void {
    this.#discarded.delete(responseId);
    this.#discarded.add(responseId);
    if (this.#discarded.size > discardedKept) this.#discarded.delete(this.#discarded.values().next().value!);
  }
}
