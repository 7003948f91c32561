import type {
  ConversationItemInputAudioTranscriptionCompletedEvent,
  ConversationItemInputAudioTranscriptionDeltaEvent,
  ConversationItemInputAudioTranscriptionFailedEvent,
  RealtimeServerEvent,
} from 'openai/resources/realtime/realtime';
import { openaiId } from './ids.ts';
import type { Pace } from './openai-realtime.response-behaviour.ts';

/** What a failed transcription reports (`…input_audio_transcription.failed`'s `error`). */
export type TranscriptionFailure = ConversationItemInputAudioTranscriptionFailedEvent.Error;

/** The error of a failed transcription unless a test names its own (the API reference's example). */
export const DEFAULT_TRANSCRIPTION_FAILURE: TranscriptionFailure = {
  type: 'transcription_error',
  code: 'audio_unintelligible',
  message: 'The audio could not be transcribed.',
};

/**
 * How long after the commit a caller turn's transcript arrives: transcription runs apart
 * from the model, so at `realtime` pace it lands after the response has started (300 ms);
 * at `instant` pace a few milliseconds, still a later macrotask than the commit and the
 * `response.created` server VAD sends with it.
 */
export function defaultTranscriptionDelayMs(pace: Pace): number {
  return pace === 'realtime' ? 300 : 5;
}

/**
 * Input audio transcription as the GA API runs it: asynchronously, one job per committed
 * user item. After the delay, the transcript streams word by word
 * (`conversation.item.input_audio_transcription.delta`), then `…completed` with the whole
 * text — or `…failed` instead, when a test asked for it.
 *
 * Invariant: after `stop()` nothing is sent and no timer is left.
 */
export class InputTranscription {
  #send: (event: RealtimeServerEvent) => void;
  #delayMs: number;
  #failures: TranscriptionFailure[] = [];
  #pending = new Set<NodeJS.Timeout>();

  constructor(options: { delayMs: number; send: (event: RealtimeServerEvent) => void }) {
    this.#delayMs = options.delayMs;
    this.#send = options.send;
  }

  /** From now on, transcripts arrive `ms` after their commit (those already pending keep theirs). */
  delay(ms: number): void {
    this.#delayMs = ms;
  }

  /** The next turn transcribed fails with `error`, over the default's fields (each call fails one more turn). */
  failNext(error: TranscriptionFailure = {}): void {
    this.#failures.push({ ...DEFAULT_TRANSCRIPTION_FAILURE, ...error });
  }

  /**
   * Transcribes a committed user item: its `transcript` arrives (or fails) after the delay;
   * `onCompleted` runs once it was sent.
   */
  start(turn: { itemId: string; transcript: string; seconds: number }, onCompleted: () => void): void {
    const failure = this.#failures.shift();
    const timer = setTimeout(() => {
      this.#pending.delete(timer);
      if (failure) return this.#fail(turn.itemId, failure);
      this.#complete(turn);
      onCompleted();
    }, this.#delayMs);
    this.#pending.add(timer);
  }

  /** Drops every pending transcription: the socket is gone. */
  stop(): void {
    for (const timer of this.#pending) clearTimeout(timer);
    this.#pending.clear();
  }

  #complete({ itemId, transcript, seconds }: { itemId: string; transcript: string; seconds: number }): void {
    for (const delta of transcript.match(/\s*\S+/g) ?? []) {
      this.#send({
        type: 'conversation.item.input_audio_transcription.delta',
        event_id: openaiId('event'),
        item_id: itemId,
        content_index: 0,
        delta,
      } satisfies ConversationItemInputAudioTranscriptionDeltaEvent);
    }
    this.#send({
      type: 'conversation.item.input_audio_transcription.completed',
      event_id: openaiId('event'),
      item_id: itemId,
      content_index: 0,
      transcript,
      usage: { type: 'duration', seconds: Math.round(seconds * 10) / 10 },
    } satisfies ConversationItemInputAudioTranscriptionCompletedEvent);
  }

  #fail(itemId: string, error: TranscriptionFailure): void {
    this.#send({
      type: 'conversation.item.input_audio_transcription.failed',
      event_id: openaiId('event'),
      item_id: itemId,
      content_index: 0,
      error,
    } satisfies ConversationItemInputAudioTranscriptionFailedEvent);
  }
}
