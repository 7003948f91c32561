import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Keys whose values are personal data or secrets. Log them only under these keys: pino
 * replaces their values, wherever they sit in the first two levels of a log object.
 * By convention anything personal goes under `pii` (phone numbers, names, transcripts,
 * prompts); the other keys catch the usual suspects.
 */
const redactedKeys = [
  'pii',
  'phone',
  'from',
  'to',
  'transcript',
  'prompt',
  'text',
  'authorization',
  'apiKey',
  'token',
  'secret',
  'password',
  'audio',
  'payload',
];

export const redactPaths = [
  ...redactedKeys,
  ...redactedKeys.map((key) => `*.${key}`),
  'req.headers.authorization',
  'req.headers["x-twilio-signature"]',
];

export interface LoggerOptions {
  level: string;
  /** Where log lines go; default stdout. Tests pass a stream to read them back. */
  destination?: NodeJS.WritableStream;
}

/** The root logger. Scope it with `.child({ callSid })`, `.child({ jobId })`, … */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      base: { service: 'callwatch' },
      redact: { paths: redactPaths, censor: '[redacted]' },
    },
    options.destination ?? pino.destination({ sync: true }),
  );
}
