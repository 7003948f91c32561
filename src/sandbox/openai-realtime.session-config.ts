import type { RealtimeSessionCreateResponse } from 'openai/resources/realtime/client-secrets';
import { openaiId } from './ids.ts';

/** The session object the stand-in reports in `session.created` / `session.updated`. */
export type SessionConfig = RealtimeSessionCreateResponse;

/** OpenAI's cap on a Realtime session's length: 60 minutes. */
export const SESSION_MAX_MS = 60 * 60_000;

/** Turn detection as the stand-in applies it; `null` when the client turned it off. */
export interface TurnDetection {
  type: 'server_vad' | 'semantic_vad';
  silenceDurationMs: number | undefined;
  prefixPaddingMs: number | undefined;
  createResponse: boolean;
  interruptResponse: boolean;
}

/**
 * The session a GA Realtime connection starts with, with the real API's defaults: PCM at
 * 24 kHz, server VAD, no input transcription (the API reports it as null; the SDK type
 * has it optional, so it is left out). A client that forgets to ask for `audio/pcmu` or
 * for transcription shows it here and in what it sends. It expires `maxMs` from now.
 */
export function defaultSession(model: string, maxMs = SESSION_MAX_MS): SessionConfig {
  return {
    type: 'realtime',
    object: 'realtime.session',
    id: openaiId('sess'),
    model,
    output_modalities: ['audio'],
    instructions: '',
    tools: [],
    tool_choice: 'auto',
    max_output_tokens: 'inf',
    tracing: null,
    prompt: null,
    expires_at: Math.floor((Date.now() + maxMs) / 1000),
    audio: {
      input: {
        format: { type: 'audio/pcm', rate: 24000 },
        turn_detection: {
          type: 'server_vad',
          threshold: 0.5,
          prefix_padding_ms: 300,
          silence_duration_ms: 500,
          idle_timeout_ms: null,
          create_response: true,
          interrupt_response: true,
        },
      },
      output: { format: { type: 'audio/pcm', rate: 24000 }, voice: 'marin', speed: 1 },
    },
  };
}

/**
 * `session.update` semantics: the fields sent replace the current ones, nested objects
 * merge key by key, and `null` or an array replaces whole. `id`, `object` and `model`
 * stay as they were.
 */
export function mergeSession(current: SessionConfig, update: Record<string, unknown>): SessionConfig {
  const merged = mergeObjects(current as unknown as Record<string, unknown>, update) as unknown as SessionConfig;
  return { ...merged, id: current.id, object: current.object, model: current.model };
}

function mergeObjects(base: Record<string, unknown>, update: Record<string, unknown>): Record<string, unknown> {
  const result: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(update)) {
    const existing = result[key];
    result[key] = isPlainObject(existing) && isPlainObject(value) ? mergeObjects(existing, value) : value;
  }
  return result;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The session's turn detection, or null when turned off. */
export function turnDetectionOf(session: SessionConfig): TurnDetection | null {
  const detection = session.audio?.input?.turn_detection;
  if (!detection) return null;
  const serverVad = detection.type === 'server_vad' ? detection : undefined;
  return {
    type: detection.type,
    silenceDurationMs: serverVad?.silence_duration_ms,
    prefixPaddingMs: serverVad?.prefix_padding_ms,
    createResponse: detection.create_response ?? true,
    interruptResponse: detection.interrupt_response ?? true,
  };
}

/** What the `session_expired` error says, with the cap in it: "…maximum duration of 60 minutes." */
export function sessionExpiredMessage(maxMs: number): string {
  const minutes = maxMs / 60_000;
  const duration = Number.isInteger(minutes) ? `${minutes} minute${minutes === 1 ? '' : 's'}` : `${Math.round(maxMs) / 1000} seconds`;
  return `Your session hit the maximum duration of ${duration}.`;
}

/** True when the client asked for input audio transcription (`audio.input.transcription`). */
export function transcribesInput(session: SessionConfig): boolean {
  return Boolean(session.audio?.input?.transcription);
}

/** The output voice's name. */
export function voiceOf(session: SessionConfig): string {
  return session.audio?.output?.voice ?? 'marin';
}
