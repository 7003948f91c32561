import type { Model } from 'openai/resources/models';
import { errorAnswer, type ErrorAnswer } from './openai-api.resources.ts';

/** A model the stand-in serves; `shutdownDate` (YYYY-MM-DD) when OpenAI has announced one. */
export interface StandInModel {
  id: string;
  shutdownDate?: string;
}

/**
 * What the stand-in's `GET /v1/models` knows by default: Callwatch's default models, a few
 * current neighbours, and models that are deprecated but still served until the shutdown
 * date the `openai` SDK's "Deprecated values" lists give for them.
 */
export const DEFAULT_MODELS: readonly StandInModel[] = [
  { id: 'gpt-realtime-1.5' },
  { id: 'gpt-realtime-2' },
  { id: 'gpt-live-transcribe' },
  { id: 'gpt-transcribe' },
  { id: 'gpt-5.4-mini' },
  { id: 'gpt-5.4' },
  { id: 'gpt-5.5' },
  { id: 'gpt-realtime', shutdownDate: '2027-01-20' },
  { id: 'gpt-realtime-mini', shutdownDate: '2027-01-20' },
  { id: 'gpt-4o-transcribe', shutdownDate: '2027-02-26' },
  { id: 'gpt-4o-mini-transcribe', shutdownDate: '2027-02-26' },
  { id: 'whisper-1', shutdownDate: '2027-02-26' },
  { id: 'gpt-4.1-mini', shutdownDate: '2027-01-14' },
  { id: 'gpt-5-mini', shutdownDate: '2026-12-11' },
];

/** When every stand-in model was "created": a fixed time, so answers compare equal across runs. */
const CREATED = 1_767_225_600;

/** A model object as `GET /v1/models/{model}` and the list return it. */
export function modelObject(model: StandInModel): Model {
  return { id: model.id, object: 'model', created: CREATED, owned_by: 'system', shutdown_date: model.shutdownDate ?? null } satisfies Model;
}

/** `GET /v1/models`: every model the key can use. */
export function modelList(models: Iterable<StandInModel>): { object: 'list'; data: Model[] } {
  return { object: 'list', data: [...models].map(modelObject) };
}

/** OpenAI's 404 for `GET /v1/models/{model}` when the model is unknown (or the key may not use it). */
export function modelNotFoundAnswer(id: string): ErrorAnswer {
  return errorAnswer(404, `The model '${id}' does not exist`, { param: 'model', code: 'model_not_found' });
}

/** OpenAI's 400 when a request names a model that does not exist (as `/v1/responses` sends it). */
export function requestedModelMissingAnswer(id: string): ErrorAnswer {
  return errorAnswer(400, `The requested model '${id}' does not exist.`, { param: 'model', code: 'model_not_found' });
}

/**
 * The longest audio one transcription request may carry, by model: 1500 s for the gpt-4o
 * transcribe models (and, the stand-in assumes, gpt-transcribe, whose page states no cap),
 * 1400 s for the diarize variant; whisper-1 has only the 25 MiB upload cap.
 */
export function maxTranscriptionSec(model: string): number | undefined {
  if (model === 'whisper-1') return undefined;
  return model.includes('diarize') ? 1400 : 1500;
}
