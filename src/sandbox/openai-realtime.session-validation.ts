import type {
  AudioTranscription,
  RealtimeAudioConfigInput,
  RealtimeAudioConfigOutput,
  RealtimeSessionCreateRequest,
} from 'openai/resources/realtime/realtime';
import { z } from 'zod';

/**
 * What a `session.update` may say, checked as the real API checks it: the shapes of the
 * SDK's `RealtimeSessionCreateRequest` (an unknown field is an error, as the beta's
 * `voice` or `input_audio_format` at the top level are), the known models, voices and
 * formats, and the documented ranges. The first problem found becomes the `error` the API
 * sends; an update with one is not applied at all.
 */

/** The built-in voices (`RealtimeAudioConfigOutput.voice`); a custom voice is `{ id }`. */
export const VOICES = ['alloy', 'ash', 'ballad', 'coral', 'echo', 'sage', 'shimmer', 'verse', 'marin', 'cedar'] as const;

/** OpenAI's limit on `instructions`, in tokens ("Instructions cannot be longer than 16384 tokens"). */
export const MAX_INSTRUCTION_TOKENS = 16_384;

/** What the validation checks names against. */
export interface KnownNames {
  models: ReadonlySet<string>;
  transcriptionModels: ReadonlySet<string>;
}

/** The `error` of a rejected update (`type` is always `invalid_request_error`). */
export interface SessionUpdateError {
  code: string;
  message: string;
  param: string;
}

/**
 * Checks the `session` of a `session.update`; returns the error the API would send, or
 * undefined when the update is valid.
 */
export function validateSessionUpdate(session: unknown, known: KnownNames): SessionUpdateError | undefined {
  const parsed = sessionSchema(known).safeParse(session);
  if (parsed.success) return undefined;
  const issue = parsed.error.issues[0];
  return issue ? openaiError(issue, [], session) : { code: 'invalid_value', message: 'Invalid session.', param: 'session' };
}

/**
 * Tokens as the stand-in estimates them: a quarter of the UTF-8 bytes, about what
 * OpenAI's tokenizers give for English (4 characters a token) and Hebrew (2).
 */
export function estimateTokens(text: string): number {
  return Math.ceil(Buffer.byteLength(text, 'utf8') / 4);
}

/** A string from `values`, which may change per session (so no `z.enum`). */
function oneOf(values: ReadonlySet<string>) {
  return z.string().refine((value) => values.has(value), { params: { supported: [...values] } });
}

/**
 * A decimal field: its range errors say "decimal" (an integer field's say "integer"), as the
 * API's do whatever value was sent.
 */
function decimal(min: number, max = Infinity) {
  const schema = z.number().min(min, { error: DECIMAL });
  return max === Infinity ? schema : schema.max(max, { error: DECIMAL });
}
const DECIMAL = 'decimal';

/** `RealtimeAudioFormats`: PCM only at 24 kHz, G.711 μ-law and A-law. */
const audioFormat = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('audio/pcm'), rate: z.literal(24000).optional() }),
  z.strictObject({ type: z.literal('audio/pcmu') }),
  z.strictObject({ type: z.literal('audio/pcma') }),
]);

const vadResponses = { create_response: z.boolean().optional(), interrupt_response: z.boolean().optional() };
const turnDetection = z
  .discriminatedUnion('type', [
    z.strictObject({
      type: z.literal('server_vad'),
      threshold: decimal(0, 1).optional(),
      prefix_padding_ms: z.int().min(0).optional(),
      silence_duration_ms: z.int().min(0).optional(),
      idle_timeout_ms: z.int().min(0).nullable().optional(),
      ...vadResponses,
    }),
    z.strictObject({ type: z.literal('semantic_vad'), eagerness: z.enum(['low', 'medium', 'high', 'auto']).optional(), ...vadResponses }),
  ])
  .nullable();

const functionTool = z.strictObject({
  type: z.literal('function'),
  name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/),
  description: z.string().optional(),
  parameters: z.record(z.string(), z.unknown()).optional(),
});
// MCP servers are not something the stand-in runs; only what names one is checked.
const mcpTool = z.looseObject({ type: z.literal('mcp'), server_label: z.string() });

const toolChoice = z.union([
  z.enum(['none', 'auto', 'required']),
  z.discriminatedUnion('type', [
    z.strictObject({ type: z.literal('function'), name: z.string() }),
    z.strictObject({ type: z.literal('mcp'), server_label: z.string(), name: z.string().nullable().optional() }),
  ]),
]);

/**
 * Every object lists exactly the SDK type's keys (`satisfies Record<keyof …>`), so a field
 * the SDK adds is a type error here, not an `unknown_parameter` at run time. `null` is
 * accepted where the API documents it (transcription, noise reduction, turn detection,
 * tracing, prompt) though some SDK types leave it out.
 */
function sessionSchema(known: KnownNames) {
  const transcription = z
    .strictObject({
      model: oneOf(known.transcriptionModels).optional(),
      language: z.string().optional(),
      languages: z.array(z.string()).optional(),
      prompt: z.string().optional(),
      keywords: z.array(z.string()).optional(),
      delay: z.enum(['minimal', 'low', 'medium', 'high', 'xhigh']).optional(),
    } satisfies Record<keyof AudioTranscription, z.ZodType>)
    .nullable();
  const input = z.strictObject({
    format: audioFormat.optional(),
    noise_reduction: z.strictObject({ type: z.enum(['near_field', 'far_field']).optional(), strength: decimal(0).optional() }).nullable().optional(),
    transcription: transcription.optional(),
    turn_detection: turnDetection.optional(),
  } satisfies Record<keyof RealtimeAudioConfigInput, z.ZodType>);
  const output = z.strictObject({
    format: audioFormat.optional(),
    speed: decimal(0.25, 1.5).optional(),
    voice: z.union([z.enum(VOICES), z.strictObject({ id: z.string().min(1) })]).optional(),
  } satisfies Record<keyof RealtimeAudioConfigOutput, z.ZodType>);

  return z.strictObject({
    type: z.literal('realtime'),
    model: oneOf(known.models).optional(),
    audio: z.strictObject({ input: input.optional(), output: output.optional() }).optional(),
    include: z.array(z.literal('item.input_audio_transcription.logprobs')).optional(),
    instructions: z
      .string()
      .refine((text) => estimateTokens(text) <= MAX_INSTRUCTION_TOKENS, {
        params: { code: 'string_above_max_length', explain: (text: string) => `Instructions cannot be longer than ${MAX_INSTRUCTION_TOKENS} tokens, you have provided ${estimateTokens(text)} tokens.` },
      })
      .optional(),
    max_output_tokens: z.union([z.int().min(1).max(4096), z.literal('inf')]).optional(),
    output_modalities: z
      .array(z.enum(['text', 'audio']))
      .min(1)
      .refine((modalities) => modalities.length === 1, { params: { code: 'invalid_value', explain: () => 'It is not possible to request both text and audio at the same time.' } })
      .optional(),
    parallel_tool_calls: z.boolean().optional(),
    prompt: z.strictObject({ id: z.string(), variables: z.record(z.string(), z.unknown()).nullable().optional(), version: z.string().nullable().optional() }).nullable().optional(),
    reasoning: z.strictObject({ effort: z.enum(['minimal', 'low', 'medium', 'high', 'xhigh']).optional() }).optional(),
    tool_choice: toolChoice.optional(),
    tools: z.array(z.discriminatedUnion('type', [functionTool, mcpTool])).optional(),
    tracing: z
      .union([z.literal('auto'), z.strictObject({ group_id: z.string().optional(), metadata: z.unknown().optional(), workflow_name: z.string().optional() })])
      .nullable()
      .optional(),
    truncation: z
      .union([
        z.enum(['auto', 'disabled']),
        z.strictObject({ type: z.literal('retention_ratio'), retention_ratio: decimal(0, 1), token_limits: z.strictObject({ post_instructions: z.int().min(0).optional() }).optional() }),
      ])
      .optional(),
  } satisfies Record<keyof RealtimeSessionCreateRequest, z.ZodType>);
}

type Path = readonly PropertyKey[];

/** The API's error for one zod issue, in its words: `param` is the field's path under `session`. */
function openaiError(issue: z.core.$ZodIssue, base: Path, session: unknown): SessionUpdateError {
  const path = [...base, ...issue.path];
  const value = valueAt(session, path);
  switch (issue.code) {
    case 'unrecognized_keys': {
      const param = paramOf([...path, issue.keys[0] ?? '']);
      return { code: 'unknown_parameter', message: `Unknown parameter: '${param}'.`, param };
    }
    case 'invalid_union': {
      if (issue.discriminator !== undefined && 'options' in issue) return invalidValue(path, value, issue.options ?? []);
      // The branch that got furthest into the value (an object's fields, not its kind) says
      // what is wrong with it; among equals, one that did not just reject the value's type.
      const firsts = issue.errors.map((issues) => issues[0]).filter((first) => first !== undefined);
      const deepest = Math.max(...firsts.map((first) => first.path.length));
      const best = firsts.filter((first) => first.path.length === deepest);
      const first = best.find((candidate) => candidate.code !== 'invalid_type') ?? best[0];
      return first ? openaiError(first, path, session) : invalidType(path, value, 'a valid value');
    }
    case 'invalid_type':
      return invalidType(path, value, expectedOf(issue.expected));
    case 'invalid_value':
      return invalidValue(path, value, issue.values);
    case 'too_big':
    case 'too_small':
      return custom(issue, path, value) ?? outOfRange(issue, path, value);
    case 'invalid_format':
      return { code: 'invalid_value', message: `Invalid '${paramOf(path)}': string does not match pattern. Expected a string that matches the pattern '${issue.pattern?.replace(/^\/|\/$/g, '') ?? ''}'.`, param: paramOf(path) };
    case 'custom': {
      const supported = (issue.params as { supported?: unknown[] } | undefined)?.supported;
      if (supported) return invalidValue(path, value, supported);
      return custom(issue, path, value) ?? { code: 'invalid_value', message: `Invalid value for '${paramOf(path)}'.`, param: paramOf(path) };
    }
    default:
      return { code: 'invalid_value', message: `Invalid value for '${paramOf(path)}'.`, param: paramOf(path) };
  }
}

/** An issue whose schema named its own code and message (`params: { code, explain }`). */
function custom(issue: z.core.$ZodIssue, path: Path, value: unknown): SessionUpdateError | undefined {
  const params = (issue as { params?: { code?: string; explain?: (value: never) => string } }).params;
  if (!params?.code || !params.explain) return undefined;
  return { code: params.code, message: params.explain(value as never), param: paramOf(path) };
}

function invalidValue(path: Path, value: unknown, supported: readonly unknown[]): SessionUpdateError {
  const param = paramOf(path);
  if (value === undefined) return { code: 'missing_required_parameter', message: `Missing required parameter: '${param}'.`, param };
  return { code: 'invalid_value', message: `Invalid value: ${literal(value)}. Supported values are: ${listOf(supported.map(literal))}.`, param };
}

function invalidType(path: Path, value: unknown, expected: string): SessionUpdateError {
  const param = paramOf(path);
  if (value === undefined) return { code: 'missing_required_parameter', message: `Missing required parameter: '${param}'.`, param };
  return { code: 'invalid_type', message: `Invalid type for '${param}': expected ${expected}, but got ${kindOf(value)} instead.`, param };
}

function outOfRange(issue: z.core.$ZodIssueTooBig | z.core.$ZodIssueTooSmall, path: Path, value: unknown): SessionUpdateError {
  const param = paramOf(path);
  const above = issue.code === 'too_big';
  const limit = above ? issue.maximum : issue.minimum;
  if (issue.origin === 'string' || issue.origin === 'array') {
    const kind = issue.origin;
    const length = (value as { length: number }).length;
    return {
      code: `${kind}_${above ? 'above_max' : 'below_min'}_length`,
      message: `Invalid '${param}': ${kind} too ${above ? 'long' : 'short'}. Expected ${kind === 'array' ? 'an array' : 'a string'} with ${above ? 'maximum' : 'minimum'} length ${String(limit)}, but got ${kind === 'array' ? 'an array' : 'a string'} with length ${length} instead.`,
      param,
    };
  }
  const kind = issue.message === DECIMAL ? 'decimal' : 'integer';
  return {
    code: `${kind}_${above ? 'above_max' : 'below_min'}_value`,
    message: `Invalid '${param}': ${kind} ${above ? 'above maximum' : 'below minimum'} value. Expected a value ${above ? '<=' : '>='} ${String(limit)}, but got ${String(value)} instead.`,
    param,
  };
}

/** `session.audio.output.voice`, `session.tools[0].name`: the path as OpenAI's errors name it. */
function paramOf(path: Path): string {
  return path.reduce<string>((param, key) => (typeof key === 'number' ? `${param}[${key}]` : `${param}.${String(key)}`), 'session');
}

function valueAt(root: unknown, path: Path): unknown {
  let current = root;
  for (const key of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

function literal(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : JSON.stringify(value) ?? String(value);
}

function listOf(items: string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')}, and ${items.at(-1) ?? ''}`;
}

function expectedOf(expected: string): string {
  const names: Record<string, string> = { string: 'a string', number: 'a decimal', int: 'an integer', boolean: 'a boolean', object: 'an object', array: 'an array', null: 'null' };
  return names[expected] ?? `a ${expected}`;
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : 'a decimal';
  return expectedOf(typeof value);
}
