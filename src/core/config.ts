import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { AppError } from './errors.ts';
import { priceTable, pricesOverride, type PriceTable } from './prices.ts';

/**
 * Configuration comes from the environment, is parsed once at start and is immutable after.
 * Error messages name the variable and what is wrong with it, never the value it had:
 * a misplaced secret must not end up in a log.
 */

const roles = ['all', 'api', 'worker'] as const;
export type Role = (typeof roles)[number];

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const port = z.coerce
  .number({ error: 'must be a port number' })
  .int({ error: 'must be a port number' })
  .min(0, { error: 'must be between 0 and 65535' })
  .max(65535, { error: 'must be between 0 and 65535' });

const httpUrl = z
  .string()
  .refine((value) => isUrl(value, ['http:', 'https:']), { error: 'must be an http(s) URL' })
  .transform((value) => value.replace(/\/+$/, ''));

const wsUrl = z
  .string()
  .refine((value) => isUrl(value, ['ws:', 'wss:']), { error: 'must be a ws(s) URL' });

const postgresUrl = z
  .string()
  .refine((value) => isUrl(value, ['postgres:', 'postgresql:']), {
    error: 'must be a postgres:// URL',
  });

const redisUrl = z
  .string()
  .refine((value) => isUrl(value, ['redis:', 'rediss:']), { error: 'must be a redis:// URL' });

const flag = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'must be true or false' })
  .transform((value) => value === 'true' || value === '1' || value === 'yes');

const milliseconds = z.coerce
  .number({ error: 'must be a number of milliseconds' })
  .int({ error: 'must be a whole number of milliseconds' })
  .min(1, { error: 'must be at least 1' });

/** Comma-separated IP addresses or CIDR ranges, e.g. `127.0.0.0/8,::1,10.1.0.0/16`. */
const networkList = z
  .string()
  .transform((value) => value.split(',').map((item) => item.trim()).filter((item) => item !== ''))
  .refine((items) => items.every(isNetwork), { error: 'must be IP addresses or CIDR ranges, comma-separated' });

const secret = z.string().min(32, { error: 'must be at least 32 characters' });

/** Comma-separated exact origins, e.g. `https://crm.example.com,https://ops.example.com`. */
const originList = z
  .string()
  .transform((value) => value.split(',').map((item) => item.trim()).filter((item) => item !== ''))
  .refine((items) => items.every(isOrigin), { error: 'must be exact origins (scheme://host[:port], no path or *), comma-separated' });

const connections = z.coerce
  .number({ error: 'must be a number of connections' })
  .int({ error: 'must be a whole number of connections' })
  .min(1, { error: 'must be at least 1' });

const envSchema = z.object({
  NODE_ENV: z
    .enum(['development', 'test', 'production'], {
      error: 'must be development, test or production',
    })
    .default('development'),
  PORT: port.default(3000),
  PUBLIC_URL: httpUrl.optional(),
  DATABASE_URL: postgresUrl.optional(),
  DATA_DIR: z.string().min(1).default('.data'),
  EMBEDDED_POSTGRES_PORT: port.default(54329),
  MIGRATE_ON_START: flag.default(true),
  REDIS_URL: redisUrl.optional(),
  ROLE: z.enum(roles, { error: 'must be all, api or worker' }).default('all'),
  APP_SECRET: secret.optional(),
  // The APP_SECRET being rotated out: stored secrets sealed with it still open, and start-up re-seals them with APP_SECRET.
  APP_SECRET_PREVIOUS: secret.optional(),
  ADMIN_API_KEY: secret.optional(),
  OPENAI_API_KEY: z.string().min(1).optional(),
  OPENAI_BASE_URL: httpUrl.default('https://api.openai.com/v1'),
  OPENAI_REALTIME_URL: wsUrl.default('wss://api.openai.com/v1/realtime'),
  // Current models with no announced shutdown (test/unit/models.test.ts checks the SDK's
  // deprecation lists); README "Models" says why each.
  OPENAI_REALTIME_MODEL: z.string().min(1).default('gpt-realtime-1.5'),
  OPENAI_INPUT_TRANSCRIBE_MODEL: z.string().min(1).default('gpt-live-transcribe'),
  OPENAI_TRANSCRIBE_MODEL: z.string().min(1).default('gpt-transcribe'),
  OPENAI_TEXT_MODEL: z.string().min(1).default('gpt-5.4-mini'),
  OPENAI_CHECK_MODELS: flag.default(true),
  // Prices of the models by name, merged over the dated built-in table (core/prices.ts).
  OPENAI_PRICES: pricesOverride.optional(),
  // OpenAI ends a Realtime session at 60 minutes; a call moves to a new one before that.
  OPENAI_SESSION_MAX_SEC: z.coerce
    .number({ error: 'must be a number of seconds' })
    .int({ error: 'must be a whole number of seconds' })
    .min(1, { error: 'must be at least 1' })
    .max(3500, { error: 'must be at most 3500 (OpenAI ends a session at 3600 s; the rollover needs a quiet moment before that)' })
    .default(3300),
  TWILIO_ACCOUNT_SID: z.string().regex(/^AC[0-9a-fA-F]{32}$/, { error: 'must look like AC + 32 hex digits' }).optional(),
  TWILIO_AUTH_TOKEN: z.string().min(1).optional(),
  TWILIO_API_URL: httpUrl.default('https://api.twilio.com'),
  // Twilio sends a recording's status callback once, with no retry: a call whose callback
  // has not come this long after it ended is reconciled through the REST API.
  RECORDING_CALLBACK_GRACE_SEC: z.coerce
    .number({ error: 'must be a number of seconds' })
    .int({ error: 'must be a whole number of seconds' })
    .min(1, { error: 'must be at least 1' })
    .default(600),
  // An instance that has not beaten this long is dead: its calls are closed (lost-calls.ts).
  LOST_CALL_AFTER_SEC: z.coerce
    .number({ error: 'must be a number of seconds' })
    .int({ error: 'must be a whole number of seconds' })
    .min(1, { error: 'must be at least 1' })
    .max(60, { error: 'must be at most 60 (lost calls are closed within 2 minutes)' })
    .default(30),
  // How often each API instance reloads the routing cache it answers calls from while Postgres is down.
  ROUTING_CACHE_REFRESH_SEC: z.coerce
    .number({ error: 'must be a number of seconds' })
    .int({ error: 'must be a whole number of seconds' })
    .min(5, { error: 'must be at least 5' })
    .max(3600, { error: 'must be at most 3600' })
    .default(60),
  OUTBOUND_CALLS_PER_SECOND: z.coerce
    .number({ error: 'must be a number' })
    .positive({ error: 'must be more than 0' })
    .max(100, { error: 'must be at most 100' })
    .default(1),
  GRAPHQL_INTROSPECTION: flag.optional(),
  GRAPHQL_MAX_BODY_BYTES: z.coerce
    .number({ error: 'must be a number of bytes' })
    .int({ error: 'must be a whole number of bytes' })
    .min(1024, { error: 'must be at least 1024' })
    .default(100 * 1024),
  GRAPHQL_MAX_TOKENS: z.coerce
    .number({ error: 'must be a number of tokens' })
    .int({ error: 'must be a whole number of tokens' })
    .min(100, { error: 'must be at least 100' })
    .default(5000),
  WORKER_CONCURRENCY: z.coerce
    .number({ error: 'must be a number' })
    .int({ error: 'must be a whole number' })
    .min(1, { error: 'must be at least 1' })
    .max(200, { error: 'must be at most 200' })
    .default(16),
  WORKER_POLL_INTERVAL_MS: milliseconds.min(500, { error: 'must be at least 500' }).default(2000),
  WEBHOOK_TIMEOUT_MS: milliseconds.default(10_000),
  WEBHOOK_RETRY_BASE_MS: milliseconds.default(10_000),
  WEBHOOK_RETRY_FOR_SEC: z.coerce
    .number({ error: 'must be a number of seconds' })
    .int({ error: 'must be a whole number of seconds' })
    .min(1, { error: 'must be at least 1' })
    .default(24 * 60 * 60),
  WEBHOOK_ALLOWED_NETWORKS: networkList.default([]),
  LOG_LEVEL: z.enum(logLevels, { error: `must be one of ${logLevels.join(', ')}` }).default('info'),
  SHUTDOWN_TIMEOUT_MS: z.coerce
    .number({ error: 'must be a number of milliseconds' })
    .int({ error: 'must be a whole number of milliseconds' })
    .min(0, { error: 'must not be negative' })
    .default(10_000),
  // Unset: the longest maxCallDurationSec of any business, read at shutdown (call-drain.ts).
  SHUTDOWN_CALL_DRAIN_SEC: z.coerce
    .number({ error: 'must be a number of seconds' })
    .int({ error: 'must be a whole number of seconds' })
    .min(0, { error: 'must not be negative' })
    .max(7200, { error: 'must be at most 7200 (the longest maximum call duration a business may set)' })
    .optional(),
  CORS_ORIGINS: originList.default([]),
  METRICS_TOKEN: secret.optional(),
  METRICS_PORT: port.optional(),
  // Traces go to an OTLP/HTTP collector only when this is set (core/tracing.ts); unset costs nothing.
  OTEL_EXPORTER_OTLP_ENDPOINT: httpUrl.optional(),
  OTEL_SERVICE_NAME: z.string().min(1).max(200).default('callwatch'),
  HTTP_HEADERS_TIMEOUT_MS: milliseconds.default(15_000),
  HTTP_REQUEST_TIMEOUT_MS: milliseconds.default(30_000),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: milliseconds.default(5000),
  HTTP_MAX_CONNECTIONS: connections.default(10_000),
  MEDIA_MAX_SOCKETS: z.coerce
    .number({ error: 'must be a number' })
    .int({ error: 'must be a whole number' })
    .min(1, { error: 'must be at least 1' })
    .default(1000),
});

/**
 * Every variable Callwatch reads, each with its default (undefined when it has none or the
 * default depends on another variable). test/unit/readme-environment.test.ts holds the README's
 * environment table to this list.
 */
export function environmentDefaults(): Record<string, unknown> {
  const defaults: Record<string, unknown> = envSchema.parse({});
  return Object.fromEntries(Object.keys(envSchema.shape).map((name) => [name, defaults[name]]));
}

/** Variables that must be set explicitly in production; development generates or skips them. */
const requiredInProduction = [
  'PUBLIC_URL',
  'APP_SECRET',
  'ADMIN_API_KEY',
  'OPENAI_API_KEY',
  'TWILIO_ACCOUNT_SID',
  'TWILIO_AUTH_TOKEN',
] as const;

/** What the environment schema gives, once parsed (defaults filled in, values coerced). */
type EnvVars = z.output<typeof envSchema>;

/**
 * The running configuration. Its type is derived from the zod schema through configOf, so
 * a variable added to the schema reaches the code with its parsed type and nothing else to
 * keep in step (the README's table is checked against the schema by a test).
 */
export type Config = ReturnType<typeof configOf>;

/** Shapes the parsed environment into the configuration the code reads. */
function configOf(vars: EnvVars, secrets: DevSecrets) {
  return {
    env: vars.NODE_ENV,
    port: vars.PORT,
    publicUrl: vars.PUBLIC_URL ?? `http://localhost:${vars.PORT}`,
    databaseUrl: vars.DATABASE_URL,
    dataDir: resolve(vars.DATA_DIR),
    embeddedPostgresPort: vars.EMBEDDED_POSTGRES_PORT,
    migrateOnStart: vars.MIGRATE_ON_START,
    redisUrl: vars.REDIS_URL,
    role: vars.ROLE,
    appSecret: secrets.appSecret,
    /** APP_SECRET_PREVIOUS: opens secrets sealed before a rotation of APP_SECRET; never seals. */
    appSecretPrevious: vars.APP_SECRET_PREVIOUS,
    adminApiKey: secrets.adminApiKey,
    openai: {
      apiKey: vars.OPENAI_API_KEY,
      baseUrl: vars.OPENAI_BASE_URL,
      realtimeUrl: vars.OPENAI_REALTIME_URL,
      /** The voice agent (Realtime speech to speech). */
      realtimeModel: vars.OPENAI_REALTIME_MODEL,
      /** The live transcript of the caller during the call (Realtime input transcription). */
      inputTranscribeModel: vars.OPENAI_INPUT_TRANSCRIBE_MODEL,
      /** The recording after the call (`/v1/audio/transcriptions`). */
      transcribeModel: vars.OPENAI_TRANSCRIBE_MODEL,
      /** Summary and extraction after the call (`/v1/responses`). */
      textModel: vars.OPENAI_TEXT_MODEL,
      /** Whether start-up asks OpenAI for each model this role uses (only with an API key). */
      checkModels: vars.OPENAI_CHECK_MODELS,
      /** OPENAI_SESSION_MAX_SEC: how long one Realtime session carries a call before a rollover. */
      sessionMaxSec: vars.OPENAI_SESSION_MAX_SEC,
      /** What each model costs (core/prices.ts, with OPENAI_PRICES merged over it): calls' estimated cost. */
      prices: priceTable(vars.OPENAI_PRICES),
    },
    twilio: {
      accountSid: vars.TWILIO_ACCOUNT_SID,
      authToken: vars.TWILIO_AUTH_TOKEN,
      apiUrl: vars.TWILIO_API_URL,
      /** New outbound calls per second across every worker (Twilio's account limit is 1 unless raised). */
      callsPerSecond: vars.OUTBOUND_CALLS_PER_SECOND,
      /** How long after a recorded call ended its recording callback may take before the call is reconciled. */
      recordingCallbackGraceSec: vars.RECORDING_CALLBACK_GRACE_SEC,
    },
    /** Schema introspection and GraphiQL at /graphql: on by default except in production. */
    graphqlIntrospection: vars.GRAPHQL_INTROSPECTION ?? vars.NODE_ENV !== 'production',
    /** What /graphql accepts before it parses anything, over HTTP, SSE and graphql-ws alike. */
    graphqlLimits: {
      /** A request body, a GET query string or a graphql-ws message, in bytes. */
      maxBodyBytes: vars.GRAPHQL_MAX_BODY_BYTES,
      /** Lexical tokens of one document (and as many comments). */
      maxTokens: vars.GRAPHQL_MAX_TOKENS,
    },
    /** Jobs of each queue a worker process runs at once. */
    workerConcurrency: vars.WORKER_CONCURRENCY,
    /** How often idle workers look for jobs that have fallen due (new jobs wake them at once). */
    workerPollIntervalMs: vars.WORKER_POLL_INTERVAL_MS,
    webhooks: {
      /** Per attempt, connect to last byte. */
      timeoutMs: vars.WEBHOOK_TIMEOUT_MS,
      /** First retry delay; each later one doubles (capped at 2 h). */
      retryBaseMs: vars.WEBHOOK_RETRY_BASE_MS,
      /** How long failed deliveries are retried before they are dead. */
      retryForSec: vars.WEBHOOK_RETRY_FOR_SEC,
      /** Private or loopback addresses webhooks may still be sent to (IPs or CIDR ranges). */
      allowedNetworks: vars.WEBHOOK_ALLOWED_NETWORKS,
    },
    logLevel: vars.LOG_LEVEL,
    shutdownTimeoutMs: vars.SHUTDOWN_TIMEOUT_MS,
    /**
     * How long a shutdown lets live calls finish before the agent says goodbye; undefined:
     * the longest maximum call duration of any business, read at shutdown.
     */
    shutdownCallDrainSec: vars.SHUTDOWN_CALL_DRAIN_SEC,
    /**
     * LOST_CALL_AFTER_SEC: how old an instance's heartbeat may get before its calls are
     * closed as lost (the instance beats every few seconds; workers sweep).
     */
    lostCallAfterSec: vars.LOST_CALL_AFTER_SEC,
    /**
     * ROUTING_CACHE_REFRESH_SEC: how often the routing cache (numbers, businesses, settings;
     * answers calls while Postgres is unreachable) is reloaded; it is reloaded on a change too.
     */
    routingCacheRefreshSec: vars.ROUTING_CACHE_REFRESH_SEC,
    /** Media stream sockets one process holds at most; more are refused at the upgrade (503). */
    mediaMaxSockets: vars.MEDIA_MAX_SOCKETS,
    /** Origins whose browsers may call /graphql (CORS); none: CORS headers are never sent. */
    corsOrigins: vars.CORS_ORIGINS,
    metrics: {
      /** When set, /metrics answers only `Authorization: Bearer <token>`. */
      token: vars.METRICS_TOKEN,
      /** When set, /metrics is served on this port only (its own listener), not on PORT. */
      port: vars.METRICS_PORT,
    },
    tracing: {
      /** OTEL_EXPORTER_OTLP_ENDPOINT: the collector's base URL; undefined: tracing is off. */
      endpoint: vars.OTEL_EXPORTER_OTLP_ENDPOINT,
      serviceName: vars.OTEL_SERVICE_NAME,
    },
    /** Limits of the main HTTP server's connections (upgraded websockets are exempt from the timeouts). */
    http: {
      headersTimeoutMs: vars.HTTP_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: vars.HTTP_REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: vars.HTTP_KEEP_ALIVE_TIMEOUT_MS,
      maxConnections: vars.HTTP_MAX_CONNECTIONS,
    },
  };
}

export interface LoadConfigOptions {
  /** Where to keep generated development secrets; default: DATA_DIR. Tests pass false. */
  persistDevSecrets?: boolean;
}

/**
 * Parses and validates the environment. Throws an AppError('CONFIG_INVALID') whose message
 * lists every offending variable by name. Outside production, APP_SECRET and ADMIN_API_KEY
 * are generated when unset and kept in DATA_DIR/secrets.json so they survive restarts.
 */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  options: LoadConfigOptions = {},
): Config {
  // An empty variable means "unset": `FOO= npm start` must not fail on FOO.
  const present = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ''),
  );
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${String(issue.path[0])} ${issue.message}`);
    throw configError(problems);
  }
  const vars = parsed.data;
  // Node refuses a header timeout longer than the request's: the headers are part of it.
  if (vars.HTTP_HEADERS_TIMEOUT_MS > vars.HTTP_REQUEST_TIMEOUT_MS) {
    throw configError(['HTTP_HEADERS_TIMEOUT_MS must not be more than HTTP_REQUEST_TIMEOUT_MS']);
  }

  if (vars.NODE_ENV === 'production') {
    const missing = requiredInProduction.filter((key) => vars[key] === undefined);
    if (missing.length > 0) {
      throw configError(missing.map((key) => `${key} is required when NODE_ENV=production`));
    }
    if (vars.METRICS_TOKEN === undefined && vars.METRICS_PORT === undefined) {
      throw configError(['METRICS_TOKEN or METRICS_PORT is required when NODE_ENV=production (/metrics is public otherwise)']);
    }
  }

  const dataDir = resolve(vars.DATA_DIR);
  const secrets =
    vars.APP_SECRET !== undefined && vars.ADMIN_API_KEY !== undefined
      ? { appSecret: vars.APP_SECRET, adminApiKey: vars.ADMIN_API_KEY }
      : devSecrets(dataDir, options.persistDevSecrets ?? vars.NODE_ENV !== 'test');

  return configOf(vars, {
    appSecret: vars.APP_SECRET ?? secrets.appSecret,
    adminApiKey: vars.ADMIN_API_KEY ?? secrets.adminApiKey,
  });
}

interface DevSecrets {
  appSecret: string;
  adminApiKey: string;
}

/** Reads the development secrets from DATA_DIR/secrets.json, creating them on first use. */
function devSecrets(dataDir: string, persist: boolean): DevSecrets {
  const generated: DevSecrets = {
    appSecret: randomBytes(32).toString('base64url'),
    adminApiKey: `cw_admin_${randomBytes(24).toString('base64url')}`,
  };
  if (!persist) return generated;

  const file = join(dataDir, 'secrets.json');
  try {
    const stored = JSON.parse(readFileSync(file, 'utf8')) as Partial<DevSecrets>;
    if (typeof stored.appSecret === 'string' && typeof stored.adminApiKey === 'string') {
      return { appSecret: stored.appSecret, adminApiKey: stored.adminApiKey };
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new AppError('CONFIG_INVALID', `cannot read ${file}: delete it to generate new development secrets`, {
        cause: error,
      });
    }
  }
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, `${JSON.stringify(generated, null, 2)}\n`, { mode: 0o600 });
  return generated;
}

function configError(problems: string[]): AppError {
  return new AppError('CONFIG_INVALID', `Invalid configuration: ${problems.join('; ')}`, {
    userMessage: problems.join('\n'),
    details: { problems },
  });
}

function isNetwork(value: string): boolean {
  const [address, prefix, ...rest] = value.split('/');
  const family = isIP(address ?? '');
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  const bits = Number(prefix);
  return /^\d+$/.test(prefix) && bits <= (family === 4 ? 32 : 128);
}

function isOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.origin === value;
  } catch {
    return false;
  }
}

function isUrl(value: string, protocols: string[]): boolean {
  try {
    return protocols.includes(new URL(value).protocol);
  } catch {
    return false;
  }
}
