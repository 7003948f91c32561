import { z } from 'zod';
import { israeliCities, normalizeCity } from '../../core/cities.ts';
import type { ExtractionField } from '../../entities/business-settings.entity.ts';
import { askOpenAI } from './ai.ts';
import { callText, textUsage, type PipelineStepModule } from './step.ts';

/**
 * Step 4: structured fields with OpenAI's structured output (a strict JSON schema): the
 * caller's `city` (normalised to its common Hebrew spelling) and `service_category`, plus
 * the fields of the business's extraction schema. Every field is nullable and the model is
 * told to leave out what the call did not say: null means "not said", never a guess.
 */
export const extract: PipelineStepModule = {
  name: 'extract',
  produces: ['extractedCity', 'extractedService', 'extracted'],
  async run(call, deps) {
    const text = callText(call);
    if (!text) return { outcome: 'skipped', reason: 'nothing was said' };
    const fields = call.settings.extractionSchema;
    const answer = await askOpenAI('extraction', deps.openai, (openai) =>
      openai.responses.create(
        {
          model: deps.config.openai.textModel,
          store: false,
          instructions: [
            'Extract facts from this phone call transcript into the JSON schema.',
            'Lines starting "Caller:" are the person on the phone; lines starting "Agent:" are the business\'s AI receptionist. A transcript without these labels does not say who spoke.',
            'Facts about the caller come only from what the caller said or confirmed; a city, name or need the agent mentions (its own location, an example, a place it serves) is not the caller\'s.',
            'Use null for anything the transcript does not state explicitly. Never guess.',
            `city: the caller's city in Israel, in Hebrew, spelled as the Central Bureau of Statistics does (for example: ${israeliCities.slice(0, 6).join(', ')}).`,
            'service_category: what the caller needs, as a short noun phrase in the language of the call.',
          ].join('\n'),
          input: text,
          text: { format: { type: 'json_schema', name: 'call_fields', strict: true, schema: jsonSchema(fields) } },
        },
        { signal: deps.signal },
      ),
    );
    if (!answer.ok) return answer.outcome;

    let parsed: unknown;
    try {
      parsed = JSON.parse(answer.value.output_text);
    } catch {
      return { outcome: 'failed', error: 'extraction: the model did not return JSON' };
    }
    const result = resultSchema(fields).safeParse(parsed);
    if (!result.success) return { outcome: 'failed', error: `extraction: the model's answer does not match the schema (${result.error.issues[0]?.message ?? 'invalid'})` };
    const { city, service_category: service, fields: extracted } = result.data;
    return {
      outcome: 'done',
      changes: { extractedCity: normalizeCity(city), extractedService: tidy(service), extracted: fields.length > 0 ? extracted : null },
      usage: textUsage(answer.value.usage),
    };
  },
};

/** The strict JSON schema the model answers in: every property required, every value nullable. */
export function jsonSchema(fields: ExtractionField[]): Record<string, unknown> {
  const fieldProperties = Object.fromEntries(fields.map((field) => [field.name, fieldSchema(field)]));
  return {
    type: 'object',
    additionalProperties: false,
    required: ['city', 'service_category', 'fields'],
    properties: {
      city: { type: ['string', 'null'], description: 'The caller’s city, or null.' },
      service_category: { type: ['string', 'null'], description: 'What the caller needs, or null.' },
      fields: { type: 'object', additionalProperties: false, required: fields.map((field) => field.name), properties: fieldProperties },
    },
  };
}

function fieldSchema(field: ExtractionField): Record<string, unknown> {
  const description = field.description || field.name;
  if (field.enum?.length) return { type: ['string', 'null'], enum: [...field.enum, null], description };
  switch (field.type) {
    case 'number':
      return { type: ['number', 'null'], description };
    case 'boolean':
      return { type: ['boolean', 'null'], description };
    case 'date':
      return { type: ['string', 'null'], description: `${description} (a date, YYYY-MM-DD)` };
    default:
      return { type: ['string', 'null'], description };
  }
}

/** Result schemas by extraction schema (as JSON): building a zod schema costs more than running it. */
const resultSchemas = new Map<string, ReturnType<typeof buildResultSchema>>();
const maxCachedSchemas = 256;

/** Checks the model's answer against the same schema before anything is stored. */
function resultSchema(fields: ExtractionField[]) {
  const key = JSON.stringify(fields);
  let schema = resultSchemas.get(key);
  if (!schema) {
    if (resultSchemas.size >= maxCachedSchemas) resultSchemas.clear();
    schema = buildResultSchema(fields);
    resultSchemas.set(key, schema);
  }
  return schema;
}

function buildResultSchema(fields: ExtractionField[]) {
  // A field the answer leaves out reads as null ("not said"); one of the wrong type fails.
  const shape = Object.fromEntries(fields.map((field) => [field.name, fieldValidator(field).nullish().transform((value) => value ?? null)]));
  // A missing `fields` object reads as "none of them said" rather than as a failure.
  const none = Object.fromEntries(fields.map((field) => [field.name, null]));
  return z.object({ city: z.string().nullable(), service_category: z.string().nullable(), fields: z.object(shape).nullish().transform((value) => value ?? { ...none }) });
}

function fieldValidator(field: ExtractionField): z.ZodType {
  if (field.enum?.length) return z.enum(field.enum as [string, ...string[]]);
  switch (field.type) {
    case 'number':
      return z.number();
    case 'boolean':
      return z.boolean();
    case 'date':
      return z.iso.date();
    default:
      return z.string();
  }
}

function tidy(value: string | null): string | null {
  const text = value?.replace(/\s+/g, ' ').trim() ?? '';
  return text === '' ? null : text;
}
