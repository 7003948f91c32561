import { startCallwatch, type Callwatch, type StartOptions } from '../../src/app.ts';
import { loadConfig } from '../../src/core/config.ts';
import { createLogger } from '../../src/core/logger.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';

/**
 * The statements of the instance heartbeat and the lost-call sweep (every few seconds, on
 * their own timers, each naming `instance_heartbeats`) and the routing cache's reloads
 * (tagged with a comment): housekeeping, not what a request or a call sent, so tests that
 * count statements leave them out.
 */
export function isHousekeeping(sql: string): boolean {
  return sql.includes('instance_heartbeats') || sql.includes('/* routing cache */');
}

export interface TestApp extends Callwatch {
  database: TestDatabase;
  /** Base URL of the HTTP server (api and all roles). */
  url: string;
  stop: () => Promise<void>;
}

/**
 * The whole service on a database of its own, listening on a free port. `env` overrides
 * environment variables (ROLE, …); `stop()` closes it and drops the database, as a failed
 * start-up does.
 */
export async function startTestApp(env: Record<string, string> = {}, options: StartOptions = {}): Promise<TestApp> {
  const database = await createTestDatabase();
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    DATABASE_URL: database.url,
    LOG_LEVEL: 'silent',
    SHUTDOWN_TIMEOUT_MS: '2000',
    // A close with calls live lets them go on 2 s, then they hear the goodbye.
    SHUTDOWN_CALL_DRAIN_SEC: '2',
    ...env,
  });
  const app = await startCallwatch(config, { logger: createLogger({ level: config.logLevel }), ...options }).catch(async (error: unknown) => {
    await database.drop();
    throw error;
  });
  return {
    ...app,
    database,
    url: app.http?.url ?? '',
    async stop() {
      await app.close();
      await database.drop();
    },
  };
}

/**
 * What a production instance needs set (the API role; no OpenAI to ask about models), for
 * tests of production-only behaviour. Pass it, with overrides, to startTestApp.
 */
export const productionEnvironment: Readonly<Record<string, string>> = {
  NODE_ENV: 'production',
  ROLE: 'api',
  PUBLIC_URL: 'https://callwatch.test',
  APP_SECRET: 'a'.repeat(32),
  ADMIN_API_KEY: 'b'.repeat(32),
  OPENAI_API_KEY: 'sk-test',
  OPENAI_CHECK_MODELS: 'false',
  TWILIO_ACCOUNT_SID: `AC${'0'.repeat(32)}`,
  TWILIO_AUTH_TOKEN: 'token',
  METRICS_TOKEN: 'm'.repeat(32),
};
