import { z } from 'zod';

/**
 * What OpenAI charges for the models Callwatch uses, per model, in US dollars: the table a
 * call's `usage.estimatedCostUsd` is computed from. Dated, because prices change; an
 * operator overrides or extends it with OPENAI_PRICES (JSON, the same shape by model name,
 * each entry merged over the built-in one). A model missing from the table costs nothing
 * in the estimate — the estimate says what it knows, never guesses.
 *
 * Source (read 2026-12-04): OpenAI's model pages, developers.openai.com/api/docs/models/<model>:
 * - gpt-realtime-1.5 and gpt-realtime-2: text $4 in / $0.40 cached / $16 out (gpt-realtime-2:
 *   $24 out); audio $32 in / $0.40 cached / $64 out, per 1M tokens.
 * - gpt-realtime-2.1-mini: text $0.60 / $0.06 / $2.40; audio $10 / $0.30 / $20 per 1M tokens.
 * - gpt-transcribe: $0.0045 a minute of audio; gpt-4o-transcribe: an estimated $0.006 a
 *   minute ($6 per 1M audio tokens); gpt-4o-mini-transcribe: an estimated $0.003.
 * - gpt-5.4-mini: $0.75 in / $4.50 out per 1M tokens (OpenAI's announcement, March 2026).
 */
export const pricesAsOf = '2026-12-04';

/** One model's prices. Token prices per 1M tokens; a field a model has no use for is absent. */
export interface ModelPrice {
  /** Realtime: caller audio (and the conversation's audio) the model reads, per 1M tokens. */
  audioInputPerMTok?: number;
  /** Realtime: audio tokens read from the prompt cache, per 1M tokens. */
  audioCachedInputPerMTok?: number;
  /** Realtime: the agent's audio, per 1M tokens. */
  audioOutputPerMTok?: number;
  /** Text (instructions, transcripts, tool calls) read, per 1M tokens. */
  textInputPerMTok?: number;
  /** Text tokens read from the prompt cache, per 1M tokens. */
  textCachedInputPerMTok?: number;
  /** Text written, per 1M tokens. */
  textOutputPerMTok?: number;
  /** Transcription billed by audio duration, per minute. */
  transcriptionPerMinute?: number;
}

/** Prices by model name. */
export type PriceTable = Readonly<Record<string, ModelPrice>>;

const realtime15: ModelPrice = {
  audioInputPerMTok: 32,
  audioCachedInputPerMTok: 0.4,
  audioOutputPerMTok: 64,
  textInputPerMTok: 4,
  textCachedInputPerMTok: 0.4,
  textOutputPerMTok: 16,
};

/** The built-in table (see the file's comment for where each number comes from). */
export const defaultPrices: PriceTable = {
  'gpt-realtime-1.5': realtime15,
  'gpt-realtime': realtime15,
  'gpt-realtime-2': { ...realtime15, textOutputPerMTok: 24 },
  'gpt-realtime-2.1-mini': {
    audioInputPerMTok: 10,
    audioCachedInputPerMTok: 0.3,
    audioOutputPerMTok: 20,
    textInputPerMTok: 0.6,
    textCachedInputPerMTok: 0.06,
    textOutputPerMTok: 2.4,
  },
  'gpt-transcribe': { transcriptionPerMinute: 0.0045 },
  'gpt-4o-transcribe': { transcriptionPerMinute: 0.006 },
  'gpt-4o-mini-transcribe': { transcriptionPerMinute: 0.003 },
  'gpt-5.4-mini': { textInputPerMTok: 0.75, textOutputPerMTok: 4.5 },
};

const price = z.number().finite().min(0);

/** OPENAI_PRICES: `{"<model>": {<ModelPrice fields>}, …}`; unknown fields are refused (a typo would silently price nothing). */
export const pricesOverride = z
  .string()
  .transform((value, ctx) => {
    try {
      return JSON.parse(value) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be JSON' });
      return z.NEVER;
    }
  })
  .pipe(
    z.record(
      z.string().min(1),
      z.strictObject({
        audioInputPerMTok: price.optional(),
        audioCachedInputPerMTok: price.optional(),
        audioOutputPerMTok: price.optional(),
        textInputPerMTok: price.optional(),
        textCachedInputPerMTok: price.optional(),
        textOutputPerMTok: price.optional(),
        transcriptionPerMinute: price.optional(),
      }),
      { error: 'must be a JSON object of prices by model name (README "Costs")' },
    ),
  );

/** The built-in table with `override`'s entries merged over it, model by model. */
export function priceTable(override: Record<string, ModelPrice> = {}): PriceTable {
  const table: Record<string, ModelPrice> = { ...defaultPrices };
  for (const [model, prices] of Object.entries(override)) table[model] = { ...table[model], ...prices };
  return table;
}
