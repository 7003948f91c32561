import type {
  RealtimeConversationItemAssistantMessage,
  ResponseAudioDeltaEvent,
  ResponseAudioDoneEvent,
  ResponseAudioTranscriptDeltaEvent,
  ResponseAudioTranscriptDoneEvent,
  ResponseContentPartAddedEvent,
  ResponseContentPartDoneEvent,
} from 'openai/resources/realtime/realtime';
import { openaiId } from './ids.ts';
import { bytesToDuration } from './mulaw.ts';
import { outputUsage, StreamedResponse, type ResponseOutcome, type StreamOptions } from './openai-realtime.streamed-response.ts';

export type { ActiveResponse, Pace, ResponseOutcome } from './openai-realtime.streamed-response.ts';

/** 100 ms of μ-law per `response.output_audio.delta`, like the real API's audio chunks. */
export const AUDIO_DELTA_BYTES = 800;

/** What the agent says in one response: its words and their μ-law audio. */
export interface Reply {
  text: string;
  audio: Buffer;
}

export interface ResponseStreamOptions extends StreamOptions {
  reply: Reply;
}

/**
 * Streams one assistant audio response in the GA event order: `response.created`, the item
 * and content part, transcript and audio deltas interleaved (transcript words first, so the
 * text never trails the audio it describes), then the `*.done` events and `response.done`.
 * `cancel()` stops the deltas where they are and closes the response as `cancelled`.
 */
export class ResponseStream extends StreamedResponse<RealtimeConversationItemAssistantMessage, ResponseStreamOptions> {
  #words: string[];
  #wordsSent = 0;
  #bytesSent = 0;

  constructor(options: ResponseStreamOptions) {
    super(options);
    this.#words = options.reply.text.match(/\s*\S+/g) ?? [];
  }

  /** Milliseconds of audio sent so far; what a client can have played at most. */
  get audioSentMs(): number {
    return bytesToDuration(this.#bytesSent);
  }

  protected override pendingItem(): RealtimeConversationItemAssistantMessage {
    return assistantItem(this.itemId, 'in_progress', []);
  }

  protected override opened(): void {
    this.options.send({
      type: 'response.content_part.added',
      event_id: openaiId('event'),
      ...this.#ids(),
      part: { type: 'audio', transcript: '' },
    } satisfies ResponseContentPartAddedEvent);
  }

  protected override sendDelta(): boolean {
    const { audio } = this.options.reply;
    const chunks = Math.max(1, Math.ceil(audio.length / AUDIO_DELTA_BYTES));
    const chunkIndex = Math.ceil(this.#bytesSent / AUDIO_DELTA_BYTES);
    const wordsBy = Math.ceil(((chunkIndex + 1) * this.#words.length) / chunks);
    const ids = this.#ids();
    while (this.#wordsSent < wordsBy) {
      const delta = this.#words[this.#wordsSent++] ?? '';
      this.options.send({ type: 'response.output_audio_transcript.delta', event_id: openaiId('event'), ...ids, delta } satisfies ResponseAudioTranscriptDeltaEvent);
    }
    const slice = audio.subarray(this.#bytesSent, this.#bytesSent + AUDIO_DELTA_BYTES);
    if (slice.length > 0) {
      this.#bytesSent += slice.length;
      this.options.send({ type: 'response.output_audio.delta', event_id: openaiId('event'), ...ids, delta: slice.toString('base64') } satisfies ResponseAudioDeltaEvent);
    }
    return this.#bytesSent >= audio.length && this.#wordsSent >= this.#words.length;
  }

  protected override closeOutput(outcome: ResponseOutcome) {
    const { send } = this.options;
    const ids = this.#ids();
    const transcript = this.#words.slice(0, this.#wordsSent).join('').trim();
    send({ type: 'response.output_audio.done', event_id: openaiId('event'), ...ids } satisfies ResponseAudioDoneEvent);
    send({ type: 'response.output_audio_transcript.done', event_id: openaiId('event'), ...ids, transcript } satisfies ResponseAudioTranscriptDoneEvent);
    send({ type: 'response.content_part.done', event_id: openaiId('event'), ...ids, part: { type: 'audio', transcript } } satisfies ResponseContentPartDoneEvent);
    const item = assistantItem(this.itemId, outcome.status === 'completed' ? 'completed' : 'incomplete', [{ type: 'output_audio', transcript }]);
    // Plausible token counts: about 20 audio tokens per second of audio, one text token per word.
    return { item, usage: outputUsage(this.#wordsSent, Math.ceil(this.audioSentMs / 50)) };
  }

  #ids() {
    return { response_id: this.responseId, item_id: this.itemId, output_index: 0, content_index: 0 };
  }
}

function assistantItem(
  id: string,
  status: 'in_progress' | 'completed' | 'incomplete',
  content: RealtimeConversationItemAssistantMessage.Content[],
): RealtimeConversationItemAssistantMessage {
  return { id, object: 'realtime.item', type: 'message', status, role: 'assistant', content };
}
