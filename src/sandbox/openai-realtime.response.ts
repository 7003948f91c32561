import type {
  RealtimeConversationItemAssistantMessage,
  ResponseAudioDeltaEvent,
  ResponseAudioDoneEvent,
  ResponseAudioTranscriptDeltaEvent,
  ResponseAudioTranscriptDoneEvent,
  ResponseContentPartAddedEvent,
  ResponseContentPartDoneEvent,
  RealtimeServerEvent,
} from 'openai/resources/realtime/realtime';
import { openaiId } from './ids.ts';
import { bytesToDuration } from './mulaw.ts';
import { OutputItem, outputUsage, type OutputPlace } from './openai-realtime.output-item.ts';

/** 100 ms of μ-law per `response.output_audio.delta`, like the real API's audio chunks. */
export const AUDIO_DELTA_BYTES = 800;

/** What the agent says in one output item: its words and their μ-law audio. */
export interface Reply {
  text: string;
  audio: Buffer;
}

/**
 * One spoken assistant message streaming in the GA event order: its content part, then
 * transcript and audio deltas interleaved (transcript words first, so the text never
 * trails the audio it describes), then `response.output_audio.done`,
 * `response.output_audio_transcript.done` and `response.content_part.done`. Closed early,
 * the transcript and the item hold only what was sent.
 */
export class SpeechOutput extends OutputItem<RealtimeConversationItemAssistantMessage> {
  item: RealtimeConversationItemAssistantMessage;
  readonly deltaCount: number;
  override readonly streamsAudio = true;
  #reply: Reply;
  #words: string[];
  #wordsSent = 0;
  #bytesSent = 0;

  constructor(place: OutputPlace, send: (event: RealtimeServerEvent) => void, reply: Reply) {
    super(place, send);
    this.#reply = reply;
    this.#words = reply.text.match(/\s*\S+/g) ?? [];
    this.deltaCount = Math.max(1, Math.ceil(reply.audio.length / AUDIO_DELTA_BYTES));
    this.item = assistantItem(this.itemId, 'in_progress', []);
  }

  /** Milliseconds of audio sent so far; what a client can have played at most. */
  get audioSentMs(): number {
    return bytesToDuration(this.#bytesSent);
  }

  override get audio(): { readonly audioSentMs: number } {
    return this;
  }

  override opened(): void {
    this.send({ type: 'response.content_part.added', event_id: openaiId('event'), ...this.#ids(), part: { type: 'audio', transcript: '' } } satisfies ResponseContentPartAddedEvent);
  }

  sendDelta(): boolean {
    const { audio } = this.#reply;
    const chunkIndex = Math.ceil(this.#bytesSent / AUDIO_DELTA_BYTES);
    const wordsBy = Math.ceil(((chunkIndex + 1) * this.#words.length) / this.deltaCount);
    const ids = this.#ids();
    while (this.#wordsSent < wordsBy) {
      const delta = this.#words[this.#wordsSent++] ?? '';
      this.send({ type: 'response.output_audio_transcript.delta', event_id: openaiId('event'), ...ids, delta } satisfies ResponseAudioTranscriptDeltaEvent);
    }
    const slice = audio.subarray(this.#bytesSent, this.#bytesSent + AUDIO_DELTA_BYTES);
    if (slice.length > 0) {
      this.#bytesSent += slice.length;
      this.send({ type: 'response.output_audio.delta', event_id: openaiId('event'), ...ids, delta: slice.toString('base64') } satisfies ResponseAudioDeltaEvent);
    }
    return this.#bytesSent >= audio.length && this.#wordsSent >= this.#words.length;
  }

  close(status: 'completed' | 'incomplete') {
    const ids = this.#ids();
    const transcript = this.#words.slice(0, this.#wordsSent).join('').trim();
    this.send({ type: 'response.output_audio.done', event_id: openaiId('event'), ...ids } satisfies ResponseAudioDoneEvent);
    this.send({ type: 'response.output_audio_transcript.done', event_id: openaiId('event'), ...ids, transcript } satisfies ResponseAudioTranscriptDoneEvent);
    this.send({ type: 'response.content_part.done', event_id: openaiId('event'), ...ids, part: { type: 'audio', transcript } } satisfies ResponseContentPartDoneEvent);
    this.item = assistantItem(this.itemId, status, [{ type: 'output_audio', transcript }]);
    // Plausible token counts: about 20 audio tokens per second of audio, one text token per word.
    return { item: this.item, usage: outputUsage(this.#wordsSent, Math.ceil(this.audioSentMs / 50)) };
  }

  #ids() {
    return { response_id: this.place.responseId, item_id: this.itemId, output_index: this.place.outputIndex, content_index: 0 };
  }
}

function assistantItem(
  id: string,
  status: 'in_progress' | 'completed' | 'incomplete',
  content: RealtimeConversationItemAssistantMessage.Content[],
): RealtimeConversationItemAssistantMessage {
  return { id, object: 'realtime.item', type: 'message', status, role: 'assistant', content };
}
