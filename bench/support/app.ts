import { randomBytes } from 'node:crypto';
import { startCallwatch, type Callwatch } from '../../src/app.ts';
import { loadConfig } from '../../src/core/config.ts';
import { createLogger } from '../../src/core/logger.ts';
import { callEnvironment } from '../../test/support/twilio.ts';

/** The environment of a benchmarked Callwatch (see startBenchApp); `env` overrides. */
export function benchEnvironment(databaseUrl: string, env: Record<string, string> = {}): Record<string, string> {
  return {
    ...callEnvironment(),
    NODE_ENV: 'production',
    PORT: '0',
    DATABASE_URL: databaseUrl,
    ROLE: 'api',
    LOG_LEVEL: 'silent',
    APP_SECRET: randomBytes(32).toString('base64url'),
    ADMIN_API_KEY: randomBytes(32).toString('base64url'),
    METRICS_TOKEN: randomBytes(32).toString('base64url'),
    SHUTDOWN_TIMEOUT_MS: '2000',
    ...env,
  };
}

/**
 * Callwatch as benchmarks run it: production settings (fresh secrets), the HTTP role only —
 * no worker picks up jobs the benchmark's calls enqueue — silent, on a free port, on
 * `databaseUrl`. `env` adds to the call path's variables (stand-in URLs and keys);
 * `onStatement` sees every SQL statement.
 */
export async function startBenchApp(
  databaseUrl: string,
  options: { env?: Record<string, string>; onStatement?: (sql: string) => void } = {},
): Promise<Callwatch> {
  const config = loadConfig(benchEnvironment(databaseUrl, options.env));
  return startCallwatch(config, { logger: createLogger({ level: 'silent' }), onStatement: options.onStatement });
}
