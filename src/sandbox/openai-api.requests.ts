import { errorAnswer, type ErrorAnswer } from './openai-api.resources.ts';
import { wavFormat } from './wav.ts';

/** `POST /v1/audio/transcriptions` as the stand-in read it. */
export interface TranscriptionRequest {
  audio: Buffer;
  filename: string;
  contentType: string;
  model: string;
  language: string | null;
  prompt: string | null;
  /** `keywords[]`, in the order sent (gpt-transcribe's keyword hints). */
  keywords: string[];
  responseFormat: string | null;
  /** The audio's length: from a WAV header, else taken as Twilio's 8 kHz μ-law (one byte a sample). */
  durationSec: number;
  /** From a WAV header; null for other containers. */
  channels: number | null;
}

/** `POST /v1/responses` as the stand-in read it. */
export interface ResponseRequest {
  model: string;
  instructions: string | null;
  input: unknown;
  /** the text of all input messages joined with newlines (string input as is) */
  inputText: string;
  /** `text.format`; `json_object` reads as `text`. */
  format: { type: 'text' } | { type: 'json_schema'; name: string; schema: Record<string, unknown>; strict: boolean | null };
  body: Record<string, unknown>;
}

interface FormPart {
  name: string;
  filename: string | null;
  contentType: string | null;
  data: Buffer;
}

/** The formats OpenAI accepts, which it tells by the file name's extension. */
const AUDIO_EXTENSIONS = ['flac', 'm4a', 'mp3', 'mp4', 'mpeg', 'mpga', 'oga', 'ogg', 'wav', 'webm'];
/** What the gpt-4o transcribe models answer in; the stand-in speaks only these. */
const TRANSCRIPTION_FORMATS = new Set(['json', 'text']);
const CRLF = Buffer.from('\r\n');
const HEADERS_END = Buffer.from('\r\n\r\n');
const DISPOSITION = { name: /;\s*name=(?:"([^"]*)"|([^;\s]*))/i, filename: /;\s*filename=(?:"([^"]*)"|([^;\s]*))/i };

/** Reads a transcription request: multipart/form-data, checked as OpenAI checks it. */
export function parseTranscriptionRequest(contentType: string | undefined, body: Buffer): TranscriptionRequest | ErrorAnswer {
  const boundary = /^multipart\/form-data\s*;.*?\bboundary=(?:"([^"]+)"|([^\s;]+))/i.exec(contentType ?? '');
  const parts = boundary ? parseMultipart(body, boundary[1] ?? boundary[2] ?? '') : null;
  if (!parts) {
    return errorAnswer(400, `Invalid Content-Type header (${contentType ?? 'none'}), expected multipart/form-data. (HINT: If you're using curl, you can pass -H 'Content-Type: multipart/form-data')`);
  }
  let file: FormPart | undefined;
  const fields = new Map<string, string>();
  const keywords: string[] = [];
  for (const part of parts) {
    if (part.filename !== null) {
      if (part.name === 'file') file ??= part;
    } else if (part.name === 'keywords[]') {
      keywords.push(part.data.toString('utf8'));
    } else if (!fields.has(part.name)) {
      fields.set(part.name, part.data.toString('utf8'));
    }
  }
  const model = fields.get('model');
  const missing = [file ? null : 'file', model ? null : 'model'].filter((name) => name !== null);
  if (!file || !model) {
    const details = missing.map((name) => `body -> ${name}\n  field required (type=value_error.missing)`).join('\n');
    return errorAnswer(400, `${missing.length} validation error${missing.length > 1 ? 's' : ''} for Request\n${details}`);
  }
  const extension = /\.([^.]+)$/.exec(file.filename ?? '')?.[1]?.toLowerCase() ?? '';
  if (!AUDIO_EXTENSIONS.includes(extension)) {
    return errorAnswer(400, `Invalid file format. Supported formats: [${AUDIO_EXTENSIONS.map((name) => `'${name}'`).join(', ')}]`, { param: 'file', code: 'invalid_value' });
  }
  if (file.data.length === 0) return errorAnswer(400, 'Audio file is too short. Minimum audio length is 0.1 seconds.', { param: 'file', code: 'audio_too_short' });
  const responseFormat = fields.get('response_format') ?? null;
  if (responseFormat !== null && !TRANSCRIPTION_FORMATS.has(responseFormat)) {
    return errorAnswer(400, `response_format '${responseFormat}' is not compatible with model '${model}'. Use 'json' or 'text' instead.`, { param: 'response_format', code: 'unsupported_value' });
  }
  if (fields.get('stream') === 'true') return errorAnswer(400, 'The stand-in does not stream transcriptions.', { param: 'stream', code: 'unsupported_value' });
  const wav = wavFormat(file.data);
  return {
    audio: file.data,
    filename: file.filename ?? '',
    contentType: file.contentType ?? 'application/octet-stream',
    model,
    language: fields.get('language') ?? null,
    prompt: fields.get('prompt') ?? null,
    keywords,
    responseFormat,
    durationSec: wav?.durationSec ?? file.data.length / 8000,
    channels: wav?.channels ?? null,
  };
}

/** Reads a Responses request: a JSON object, checked as OpenAI checks it. */
export function parseResponseRequest(body: Buffer): ResponseRequest | ErrorAnswer {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return errorAnswer(400, "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)");
  }
  if (!isRecord(parsed)) return errorAnswer(400, 'Invalid type for body: expected an object.', { code: 'invalid_type' });
  if (typeof parsed.model !== 'string' || parsed.model === '') {
    return errorAnswer(400, "Missing required parameter: 'model'.", { param: 'model', code: 'missing_required_parameter' });
  }
  if (parsed.stream === true) return errorAnswer(400, 'The stand-in does not stream responses.', { param: 'stream', code: 'unsupported_value' });
  const format = readFormat(isRecord(parsed.text) ? parsed.text.format : undefined);
  if ('status' in format) return format;
  return {
    model: parsed.model,
    instructions: typeof parsed.instructions === 'string' ? parsed.instructions : null,
    input: parsed.input ?? null,
    inputText: inputTextOf(parsed.input),
    format,
    body: parsed,
  };
}

function readFormat(format: unknown): ResponseRequest['format'] | ErrorAnswer {
  if (format === undefined || format === null) return { type: 'text' };
  const type = isRecord(format) ? format.type : undefined;
  if (!isRecord(format) || (type !== 'text' && type !== 'json_object' && type !== 'json_schema')) {
    return errorAnswer(400, `Invalid value: '${String(type)}'. Supported values are: 'text', 'json_object', and 'json_schema'.`, { param: 'text.format.type', code: 'invalid_value' });
  }
  if (type !== 'json_schema') return { type: 'text' };
  if (typeof format.name !== 'string' || format.name === '') {
    return errorAnswer(400, "Missing required parameter: 'text.format.name'.", { param: 'text.format.name', code: 'missing_required_parameter' });
  }
  if (!isRecord(format.schema)) {
    return errorAnswer(400, "Missing required parameter: 'text.format.schema'.", { param: 'text.format.schema', code: 'missing_required_parameter' });
  }
  return { type: 'json_schema', name: format.name, schema: format.schema, strict: typeof format.strict === 'boolean' ? format.strict : null };
}

/** The text of every input message, in order; parts without text (images, files) are left out. */
function inputTextOf(input: unknown): string {
  if (typeof input === 'string') return input;
  if (!Array.isArray(input)) return '';
  const texts: string[] = [];
  for (const item of input) {
    if (!isRecord(item) || (item.type !== undefined && item.type !== 'message')) continue;
    if (typeof item.content === 'string') texts.push(item.content);
    else if (Array.isArray(item.content)) {
      for (const part of item.content) if (isRecord(part) && typeof part.text === 'string') texts.push(part.text);
    }
  }
  return texts.join('\n');
}

/**
 * Splits a multipart/form-data body (RFC 7578) at its boundary, scanning the buffer, so a
 * file's bytes are a view into the body, never copied or decoded. Null when the body does
 * not follow the format. Field names and file names are UTF-8 with `"`, CR and LF
 * percent-encoded, as fetch's FormData (and browsers) send them.
 */
function parseMultipart(body: Buffer, boundary: string): FormPart[] | null {
  const dashBoundary = Buffer.from(`--${boundary}`);
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  const first = body.indexOf(dashBoundary);
  if (first < 0) return null;
  let position = first + dashBoundary.length;
  const parts: FormPart[] = [];
  for (;;) {
    // `--` right after a delimiter closes the body.
    if (body[position] === 0x2d && body[position + 1] === 0x2d) return parts;
    const lineEnd = body.indexOf(CRLF, position);
    const headersEnd = lineEnd < 0 ? -1 : body.indexOf(HEADERS_END, lineEnd);
    if (headersEnd < 0) return null;
    const dataStart = headersEnd + HEADERS_END.length;
    const dataEnd = body.indexOf(delimiter, dataStart);
    if (dataEnd < 0) return null;
    let name: string | null = null;
    let filename: string | null = null;
    let contentType: string | null = null;
    for (const line of body.toString('utf8', lineEnd + CRLF.length, headersEnd).split('\r\n')) {
      const colon = line.indexOf(':');
      const header = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (header === 'content-type') contentType = value;
      if (header !== 'content-disposition') continue;
      name = dispositionParameter(value, 'name');
      filename = dispositionParameter(value, 'filename');
    }
    if (name === null) return null;
    parts.push({ name, filename, contentType, data: body.subarray(dataStart, dataEnd) });
    position = dataEnd + delimiter.length;
  }
}

function dispositionParameter(disposition: string, parameter: 'name' | 'filename'): string | null {
  const match = DISPOSITION[parameter].exec(disposition);
  if (!match) return null;
  return (match[1] ?? match[2] ?? '').replace(/%22/g, '"').replace(/%0D/gi, '\r').replace(/%0A/gi, '\n');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
