import { defineConfig } from 'vitest/config';

/** The PostgreSQL server and migrated template that integration and e2e tests clone from. */
const withPostgres = ['test/setup/global-setup.ts'];

/**
 * Resolve packages exactly as Node does when Callwatch runs. Vite adds the `development`
 * condition, which gives graphql 17 a second (dev) build next to the one Pothos and yoga
 * load, and two graphql modules cannot share one schema.
 *
 * Three tiers, one project each (`vitest run --project unit`): unit is pure logic, so a
 * unit-only run starts no PostgreSQL; integration adds the real database; e2e adds the
 * app's HTTP/WS, the stand-ins, child processes, Redis and the browser.
 */
export default defineConfig({
  // Vite's server defaults with `production` where it would put `development`.
  ssr: { resolve: { conditions: ['module', 'node', 'production'] } },
  test: {
    // Fails a test file that leaves a socket, server, child process or timer open.
    setupFiles: ['test/setup/leak-check.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
    env: { NODE_ENV: 'test' },
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      // One PostgreSQL server for the run (embedded unless DATABASE_URL is set), shared by
      // both projects that list it; one database per test file cloned from the template.
      { extends: true, test: { name: 'integration', include: ['test/integration/**/*.test.ts'], globalSetup: withPostgres } },
      { extends: true, test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'], globalSetup: withPostgres } },
    ],
  },
});
