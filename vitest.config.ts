import { defineConfig } from 'vitest/config';

export default defineConfig({
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
