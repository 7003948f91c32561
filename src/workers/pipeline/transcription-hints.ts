import { israeliCities } from '../../core/cities.ts';
import type { PipelineCall } from './state.ts';

/** The prompt stays short: a long one costs tokens on every request and can be echoed back. */
export const MAX_PROMPT_CHARS = 600;
export const MAX_KEYWORDS = 50;

/** What a transcription request carries besides the audio, per the model's parameters. */
export interface TranscriptionHints {
  language: string;
  prompt?: string;
  keywords?: string[];
}

/**
 * The words the call is likely to contain and a generic model spells wrong: the business's
 * name, the values its extraction fields may take (its services, areas), then Israeli
 * cities, largest first, until the budget is spent. Sent as `prompt` (a plain list, in the
 * call's language, as the prompting guide asks) to every model but the diarize one, which
 * refuses a prompt, and as `keywords` to gpt-transcribe, the model the SDK says takes them.
 */
export function transcriptionHints(call: PipelineCall, model: string): TranscriptionHints {
  const terms = hintTerms(call);
  const hints: TranscriptionHints = { language: call.settings.language };
  if (!model.includes('diarize')) hints.prompt = withinChars(terms, MAX_PROMPT_CHARS).join(', ');
  if (model === 'gpt-transcribe' || model.startsWith('gpt-transcribe-')) hints.keywords = terms.slice(0, MAX_KEYWORDS);
  return hints;
}

function hintTerms(call: PipelineCall): string[] {
  const terms = new Set<string>();
  const add = (term: string | undefined) => {
    const tidy = term?.replace(/\s+/g, ' ').trim();
    if (tidy && tidy.length <= 60) terms.add(tidy);
  };
  add(call.settings.businessName);
  for (const field of call.settings.extractionSchema) for (const value of field.enum ?? []) add(value);
  for (const city of israeliCities) add(city);
  return [...terms];
}

function withinChars(terms: string[], budget: number): string[] {
  const kept: string[] = [];
  let used = 0;
  for (const term of terms) {
    const cost = term.length + (kept.length > 0 ? 2 : 0);
    if (used + cost > budget) break;
    kept.push(term);
    used += cost;
  }
  return kept;
}
