/**
 * The models the Realtime stand-in knows, in one place: a connection for any other
 * realtime model is refused, and a `session.update` naming any other transcription model
 * is rejected — as OpenAI refuses a model that does not exist or was retired. Tests pass
 * their own lists (`models`, `transcriptionModels`) to retire one.
 */

/**
 * Realtime models a connection may ask for (`?model=…`): Callwatch's default
 * (`OPENAI_REALTIME_MODEL`, src/core/config.ts) and every model the `openai` SDK lists for
 * `RealtimeSessionCreateRequest.model`, deprecated ones included — they are served until
 * their shutdown date.
 */
export const REALTIME_MODELS: readonly string[] = [
  'gpt-realtime-1.5',
  'gpt-realtime',
  'gpt-realtime-2',
  'gpt-realtime-2.1',
  'gpt-realtime-2.1-mini',
  'gpt-realtime-2025-08-28',
  'gpt-4o-realtime-preview',
  'gpt-4o-realtime-preview-2024-10-01',
  'gpt-4o-realtime-preview-2024-12-17',
  'gpt-4o-realtime-preview-2025-06-03',
  'gpt-4o-mini-realtime-preview',
  'gpt-4o-mini-realtime-preview-2024-12-17',
  'gpt-realtime-mini',
  'gpt-realtime-mini-2025-10-06',
  'gpt-realtime-mini-2025-12-15',
  'gpt-audio-1.5',
  'gpt-audio-mini',
  'gpt-audio-mini-2025-10-06',
  'gpt-audio-mini-2025-12-15',
];

/**
 * Input transcription models a session may ask for (`audio.input.transcription.model`):
 * Callwatch's (`OPENAI_INPUT_TRANSCRIBE_MODEL` and `OPENAI_TRANSCRIBE_MODEL`) and every
 * model the `openai` SDK lists for `AudioTranscription.model`.
 */
export const TRANSCRIPTION_MODELS: readonly string[] = [
  'gpt-live-transcribe',
  'gpt-transcribe',
  'whisper-1',
  'gpt-4o-mini-transcribe',
  'gpt-4o-mini-transcribe-2025-12-15',
  'gpt-4o-transcribe',
  'gpt-4o-transcribe-diarize',
  'gpt-realtime-whisper',
];
