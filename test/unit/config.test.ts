import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/config.ts';
import { isAppError } from '../../src/core/errors.ts';

function configError(env: Record<string, string>): string {
  try {
    loadConfig(env, { persistDevSecrets: false });
  } catch (error) {
    if (isAppError(error, 'CONFIG_INVALID')) return error.message;
    throw error;
  }
  throw new Error('expected the configuration to be rejected');
}

const productionEnv = {
  NODE_ENV: 'production',
  PUBLIC_URL: 'https://calls.example.com',
  APP_SECRET: 'a'.repeat(40),
  ADMIN_API_KEY: 'b'.repeat(40),
  OPENAI_API_KEY: 'sk-test',
  TWILIO_ACCOUNT_SID: `AC${'0'.repeat(32)}`,
  TWILIO_AUTH_TOKEN: 'token',
  METRICS_TOKEN: 'm'.repeat(40),
};

describe('configuration', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('starts with sensible defaults and no variables at all', () => {
    const config = loadConfig({}, { persistDevSecrets: false });
    expect(config).toMatchObject({
      env: 'development',
      port: 3000,
      publicUrl: 'http://localhost:3000',
      databaseUrl: undefined,
      role: 'all',
      migrateOnStart: true,
      openai: {
        realtimeUrl: 'wss://api.openai.com/v1/realtime',
        baseUrl: 'https://api.openai.com/v1',
        realtimeModel: 'gpt-realtime-1.5',
        inputTranscribeModel: 'gpt-live-transcribe',
        transcribeModel: 'gpt-transcribe',
        textModel: 'gpt-5.4-mini',
        checkModels: true,
      },
      twilio: { apiUrl: 'https://api.twilio.com' },
      workerConcurrency: 16,
      workerPollIntervalMs: 2000,
      webhooks: { timeoutMs: 10_000, retryBaseMs: 10_000, retryForSec: 86_400, allowedNetworks: [] },
      graphqlLimits: { maxBodyBytes: 102_400, maxTokens: 5000 },
    });
    expect(config.appSecret.length).toBeGreaterThanOrEqual(32);
    expect(config.adminApiKey.length).toBeGreaterThanOrEqual(32);
  });

  it('names the offending variable and never echoes its value', () => {
    const message = configError({ PORT: 'not-a-port-s3cr3t', ROLE: 'boss-s3cr3t', DATABASE_URL: 'mysql://s3cr3t@x/y' });
    expect(message).toContain('PORT');
    expect(message).toContain('ROLE');
    expect(message).toContain('DATABASE_URL');
    expect(message).not.toContain('s3cr3t');
  });

  it('reads the webhook allow-list as IPs and CIDR ranges, and rejects anything else by name', () => {
    const config = loadConfig({ WEBHOOK_ALLOWED_NETWORKS: ' 127.0.0.0/8, ::1 ,10.1.2.3,fd00::/8' }, { persistDevSecrets: false });
    expect(config.webhooks.allowedNetworks).toEqual(['127.0.0.0/8', '::1', '10.1.2.3', 'fd00::/8']);
    for (const bad of ['localhost', '10.0.0.0/33', '10.0.0.0/8/1', '::1/129']) {
      expect(configError({ WEBHOOK_ALLOWED_NETWORKS: bad })).toContain('WEBHOOK_ALLOWED_NETWORKS must be IP addresses or CIDR ranges');
    }
    expect(configError({ WORKER_POLL_INTERVAL_MS: '100' })).toContain('WORKER_POLL_INTERVAL_MS must be at least 500');
  });

  it('merges OPENAI_PRICES over the dated price table, and refuses prices it cannot read, by name', () => {
    expect(loadConfig({}, { persistDevSecrets: false }).openai.prices['gpt-realtime-1.5']).toMatchObject({ audioInputPerMTok: 32, audioOutputPerMTok: 64 });
    const prices = loadConfig({ OPENAI_PRICES: '{"gpt-realtime-1.5":{"audioOutputPerMTok":60},"my-model":{"textInputPerMTok":1}}' }, { persistDevSecrets: false }).openai.prices;
    expect(prices['gpt-realtime-1.5']).toMatchObject({ audioInputPerMTok: 32, audioOutputPerMTok: 60 });
    expect(prices['my-model']).toEqual({ textInputPerMTok: 1 });
    expect(configError({ OPENAI_PRICES: '{"gpt-realtime-1.5":' })).toContain('OPENAI_PRICES must be JSON');
    expect(configError({ OPENAI_PRICES: '{"gpt-realtime-1.5":{"audioOutputPerMTok":-1}}' })).toContain('OPENAI_PRICES');
    expect(configError({ OPENAI_PRICES: '{"gpt-realtime-1.5":{"audioOutPerMTok":60}}' })).toContain('OPENAI_PRICES');
    expect(configError({ OPENAI_PRICES: '[1]' })).toContain('OPENAI_PRICES');
  });

  it('reads the GraphQL limits and rejects ones too small to serve a query', () => {
    expect(loadConfig({ GRAPHQL_MAX_BODY_BYTES: '1048576', GRAPHQL_MAX_TOKENS: '20000' }, { persistDevSecrets: false }).graphqlLimits).toEqual({
      maxBodyBytes: 1_048_576,
      maxTokens: 20_000,
    });
    expect(configError({ GRAPHQL_MAX_BODY_BYTES: '100' })).toContain('GRAPHQL_MAX_BODY_BYTES must be at least 1024');
    expect(configError({ GRAPHQL_MAX_TOKENS: '1e3.5' })).toContain('GRAPHQL_MAX_TOKENS must be a number of tokens');
    expect(configError({ GRAPHQL_MAX_TOKENS: '99' })).toContain('GRAPHQL_MAX_TOKENS must be at least 100');
  });

  it('turns tracing on only with an OTLP endpoint, which must be an http(s) URL', () => {
    expect(loadConfig({}, { persistDevSecrets: false }).tracing).toEqual({ endpoint: undefined, serviceName: 'callwatch' });
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector:4318/', OTEL_SERVICE_NAME: 'callwatch-api' }, { persistDevSecrets: false }).tracing).toEqual({
      endpoint: 'http://otel-collector:4318',
      serviceName: 'callwatch-api',
    });
    expect(configError({ OTEL_EXPORTER_OTLP_ENDPOINT: 'otel-collector:4317' })).toContain('OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL');
  });

  it('stops start-up in production when a required secret is missing, naming it', () => {
    const { APP_SECRET: _omitted, ...env } = productionEnv;
    const message = configError(env);
    expect(message).toContain('APP_SECRET is required when NODE_ENV=production');
    expect(message).not.toContain('ADMIN_API_KEY');
  });

  it('rejects a production secret that is too short without printing it', () => {
    const message = configError({ ...productionEnv, APP_SECRET: 'short-s3cr3t' });
    expect(message).toContain('APP_SECRET must be at least 32 characters');
    expect(message).not.toContain('short-s3cr3t');
  });

  it('accepts a complete production environment', () => {
    const config = loadConfig(productionEnv);
    expect(config.env).toBe('production');
    expect(config.appSecret).toBe(productionEnv.APP_SECRET);
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ PORT: '', ROLE: '' }, { persistDevSecrets: false })).toMatchObject({ port: 3000, role: 'all' });
  });

  it('generates development secrets once and keeps them across restarts', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'callwatch-config-'));
    dirs.push(dataDir);
    const first = loadConfig({ DATA_DIR: dataDir });
    const second = loadConfig({ DATA_DIR: dataDir });
    expect(second.appSecret).toBe(first.appSecret);
    expect(second.adminApiKey).toBe(first.adminApiKey);
    const file = join(dataDir, 'secrets.json');
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ appSecret: first.appSecret, adminApiKey: first.adminApiKey });
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });
});
