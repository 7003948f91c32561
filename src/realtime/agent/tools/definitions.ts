import type { RealtimeFunctionTool } from 'openai/resources/realtime/realtime';
import { z } from 'zod';
import { stripControlCharactersDeep } from '../../../core/control-characters.ts';

/**
 * The agent's tools: what the model is told in `session.update`, and the schema its
 * arguments are checked against when it calls one. Arguments that fail the check never
 * reach a handler: the model gets a clear error as the tool's output and can try again.
 */

const localDateTime = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/, 'must be a local date and time, YYYY-MM-DDTHH:MM');
const localDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date, YYYY-MM-DD');
const text = (max: number) => z.string().trim().min(1).max(max);

export const toolArguments = {
  save_lead_details: z
    .strictObject({ name: text(120).optional(), city: text(80).optional(), service: text(200).optional(), notes: text(1000).optional() })
    .refine((args) => Object.keys(args).length > 0, 'give at least one of name, city, service, notes'),
  check_availability: z.strictObject({ date: localDate.optional(), part_of_day: z.enum(['morning', 'afternoon', 'evening']).optional() }),
  book_appointment: z.strictObject({ start: localDateTime, notes: text(1000).optional() }),
  transfer_to_human: z.strictObject({ reason: text(300) }),
  end_call: z.strictObject({ reason: text(300) }),
} as const;

export type ToolName = keyof typeof toolArguments;
export type ToolArguments<N extends ToolName> = z.infer<(typeof toolArguments)[N]>;
export const toolNames = Object.keys(toolArguments) as ToolName[];

export const toolDefinitions: RealtimeFunctionTool[] = [
  {
    type: 'function',
    name: 'save_lead_details',
    description: 'Save what the caller told you about themselves, as soon as you learn it: their full name, city, the service they need, notes. Call it again when you learn more.',
    parameters: {
      type: 'object',
      additionalProperties: false,
      properties: {
        name: { type: 'string', description: 'The caller’s full name, as they said it.' },
        city: { type: 'string', description: 'The city where the work is needed.' },
        service: { type: 'string', description: 'What the caller needs, in a few words.' },
        notes: { type: 'string', description: 'Anything else the business should know.' },
      },
    },
  },
  {
    type: 'function',
    name: 'check_availability',
    description: 'Free appointment slots (local time). Without a date: the next free slots.',
    parameters: {
      type: 'object',
      additionalProperties: false,
      properties: {
        date: { type: 'string', description: 'A day, YYYY-MM-DD (local).' },
        part_of_day: { type: 'string', enum: ['morning', 'afternoon', 'evening'] },
      },
    },
  },
  {
    type: 'function',
    name: 'book_appointment',
    description: 'Book a free slot the caller agreed to. If it was taken meanwhile, you get the nearest free alternatives to offer.',
    parameters: {
      type: 'object',
      additionalProperties: false,
      required: ['start'],
      properties: {
        start: { type: 'string', description: 'Local start time, YYYY-MM-DDTHH:MM, exactly as check_availability gave it.' },
        notes: { type: 'string', description: 'What the appointment is for.' },
      },
    },
  },
  {
    type: 'function',
    name: 'transfer_to_human',
    description: 'Transfer the call to a person at the business when the caller asks for one or you cannot help. Say that you are transferring first.',
    parameters: { type: 'object', additionalProperties: false, required: ['reason'], properties: { reason: { type: 'string' } } },
  },
  {
    type: 'function',
    name: 'end_call',
    description: 'End the call after you have said goodbye, when the conversation is over.',
    parameters: { type: 'object', additionalProperties: false, required: ['reason'], properties: { reason: { type: 'string' } } },
  },
];

export type ParsedToolCall = { ok: true; name: ToolName; args: ToolArguments<ToolName> } | { ok: false; error: string };

/** Checks a call the model made: a known tool, JSON arguments, matching its schema. */
export function parseToolCall(name: string, argumentsJson: string): ParsedToolCall {
  if (!(name in toolArguments)) return { ok: false, error: `unknown tool "${name}"; the tools are ${toolNames.join(', ')}` };
  const tool = name as ToolName;
  let raw: unknown;
  try {
    // JSON escapes (\u0000) survive the boundary's stripping (openai-realtime.server-events.ts) until parsed.
    raw = argumentsJson.trim() === '' ? {} : stripControlCharactersDeep(JSON.parse(argumentsJson));
  } catch {
    return { ok: false, error: 'the arguments are not valid JSON' };
  }
  const result = toolArguments[tool].safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => (issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message));
    return { ok: false, error: `invalid arguments: ${problems.join('; ')}` };
  }
  return { ok: true, name: tool, args: result.data };
}
