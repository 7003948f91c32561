import { defineConfig } from 'vitest/config';

/**
 * Resolve packages exactly as Node does when Callwatch runs. Vite adds the `development`
 * condition, which gives graphql 17 a second (dev) build next to the one Pothos and yoga
 * load, and two graphql modules cannot share one schema.
 */
export default defineConfig({
  // Vite's server defaults with `production` where it would put `development`.
  ssr: { resolve: { conditions: ['module', 'node', 'production'] } },
  test: {
    include: ['test/**/*.test.ts'],
    // One PostgreSQL server for the run (embedded unless DATABASE_URL is set), one
    // database per test file cloned from a migrated template.
    globalSetup: ['test/setup/global-setup.ts'],
    // Fails a test file that leaves a socket, server, child process or timer open.
    setupFiles: ['test/setup/leak-check.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
    env: { NODE_ENV: 'test' },
  },
});
