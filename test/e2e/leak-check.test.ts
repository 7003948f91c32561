import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';

// The package's bin (its `exports` map does not expose it as a subpath).
const vitestCli = new URL('../../node_modules/vitest/vitest.mjs', import.meta.url).pathname;
const fixturesConfig = new URL('../fixtures/vitest.config.ts', import.meta.url).pathname;

function runFixture(file: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [vitestCli, 'run', '--config', fixturesConfig, file],
      { env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' }, timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error ? (error.code as number) : 0, output: stdout + stderr }),
    );
  });
}

describe('the leak check', () => {
  it('fails a test file that leaves a server listening, naming what leaked', async () => {
    const { code, output } = await runFixture('leaky-server.fixture.ts');
    expect(code).toBe(1);
    expect(output).toContain('test file left resources open: 1 × TCPServerWrap');
  });

  it('passes the same test once it closes its server', async () => {
    const { code, output } = await runFixture('tidy-server.fixture.ts');
    expect(output).not.toContain('left resources open');
    expect(code).toBe(0);
  });
});
