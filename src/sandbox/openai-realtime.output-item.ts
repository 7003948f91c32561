import type { ConversationItem, RealtimeResponse, RealtimeServerEvent } from 'openai/resources/realtime/realtime';
import { openaiId } from './ids.ts';

/** Token counts as `response.done` reports them. */
export type Usage = NonNullable<RealtimeResponse['usage']>;

/** Where an output item sits: the response that carries it and its place in that response's `output`. */
export interface OutputPlace {
  responseId: string;
  outputIndex: number;
}

/**
 * One output item of a response (a spoken message, a function call) as it streams: the
 * events inside the item. The response that owns it sends the item's opening and closing
 * (`response.output_item.added` / `.done`, `conversation.item.added` / `.done`) and decides
 * when each delta goes out.
 *
 * Invariant: `item` is the item as last reported to the client.
 */
export abstract class OutputItem<I extends ConversationItem = ConversationItem> {
  readonly itemId = openaiId('item');
  abstract item: I;
  /** How many `sendDelta()` calls stream the whole item. */
  abstract readonly deltaCount: number;
  /** True for model audio: its deltas come in bursts, and a cancel lets a few more through. */
  readonly streamsAudio: boolean = false;
  protected readonly place: OutputPlace;
  protected readonly send: (event: RealtimeServerEvent) => void;

  constructor(place: OutputPlace, send: (event: RealtimeServerEvent) => void) {
    this.place = place;
    this.send = send;
  }

  /** Audio sent so far, for `conversation.item.truncate`; undefined when the item holds no model audio. */
  get audio(): { readonly audioSentMs: number } | undefined {
    return undefined;
  }

  /** Sends what follows the item's opening (a content part, say); nothing by default. */
  opened(): void {}

  /** Sends the next delta(s); true when everything has been sent. */
  abstract sendDelta(): boolean;

  /** Sends the done events of what is inside the item; returns the item as it ends and its usage. */
  abstract close(status: 'completed' | 'incomplete'): { item: I; usage: Usage };
}

/** Token counts of an output with `textTokens` text and `audioTokens` audio tokens and no input. */
export function outputUsage(textTokens: number, audioTokens: number): Usage {
  return {
    total_tokens: audioTokens + textTokens,
    input_tokens: 0,
    output_tokens: audioTokens + textTokens,
    input_token_details: { text_tokens: 0, audio_tokens: 0, cached_tokens: 0 },
    output_token_details: { text_tokens: textTokens, audio_tokens: audioTokens },
  };
}

/** The usage of a response that read `input` (text and audio tokens) and whose output items used `usages`. */
export function totalUsage(usages: readonly Usage[], input: { text: number; audio: number } = { text: 0, audio: 0 }): Usage {
  const sum = (pick: (usage: Usage) => number | undefined) => usages.reduce((total, usage) => total + (pick(usage) ?? 0), 0);
  const output = outputUsage(sum((usage) => usage.output_token_details?.text_tokens), sum((usage) => usage.output_token_details?.audio_tokens));
  const inputTokens = input.text + input.audio;
  return {
    ...output,
    total_tokens: (output.output_tokens ?? 0) + inputTokens,
    input_tokens: inputTokens,
    input_token_details: { text_tokens: input.text, audio_tokens: input.audio, cached_tokens: 0 },
  };
}
