import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { fixtureText } from '../../src/sandbox/fixtures.ts';
import { useTestDatabase } from '../support/database.ts';
import { freePort } from '../../src/sandbox/ports.ts';

const completedCall = /✔ {2}Call (CA[0-9a-f]{32}): completed, \d+ s, 3 turns stored/g;

/** Runs the demo to its end (or until `timeout` kills it) and collects what it printed. */
function runDemo(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['src/sandbox/demo.ts', ...args], { env, timeout: 60_000 }, (error, out, err) =>
      resolve({ code: error ? ((error.code as number | undefined) ?? 1) : 0, stdout: out, stderr: err }),
    );
  });
}

describe('npm run demo', () => {
  const db = useTestDatabase();
  const envFor = (port: number) => ({ PATH: process.env.PATH, DATABASE_URL: db.database.url, PORT: String(port) });

  it('--once plays a whole Hebrew call against the stand-ins, shows the console and key, and exits cleanly', async () => {
    const port = await freePort();
    const { code, stdout, stderr } = await runDemo(['--once'], envFor(port));
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain('Usage: npm run demo -- [--once] [--delay <sec>] [--every <sec>]');
    expect(stdout).toContain(`Console:  http://localhost:${port}/monitor`);
    expect(stdout).toMatch(/API key: {2}\S{16,}/);
    expect(stdout).toContain('paste the API key');
    expect(stdout).toContain(`🤖 agent : ${fixtureText('agent-greeting')}`);
    expect(stdout).toContain(`👤 caller: ${fixtureText('caller-booking')}`);
    expect([...stdout.matchAll(completedCall)]).toHaveLength(1);
    expect(stdout).toContain('Recording requested from Twilio: yes');
    for (const step of ['download', 'transcribe', 'summarize', 'extract', 'deliver']) expect(stdout).toContain(`⚙ ${step}: done`);
    expect(stdout).toMatch(/📨 CRM received call\.completed \(webhook-id msg_[0-9a-f]{32}\), signature verified ✔/);
    expect(stdout).toContain('city: חיפה · service: שיפוץ מטבח');
    const watched = /👀 Supervisor over graphql-ws: (\d+) call events, (\d+) audio chunks/.exec(stdout);
    expect(Number(watched?.[1])).toBeGreaterThan(10);
    expect(Number(watched?.[2])).toBeGreaterThan(100);
    expect(stdout).not.toContain('First call in');

    // Then the business calls Sarah back, and the CRM gets the outbound call's webhook.
    expect(stdout).toContain('the demo lifts calling hours');
    expect(stdout).toContain('📞 Callwatch calls Sarah back (לאשר את ביקור הערכת המחיר)');
    expect(stdout).toMatch(/job \S+: IN_PROGRESS/);
    expect(stdout).toContain('🤖 agent : שלום שרה, מדברים משיפוצי הגליל.');
    expect(stdout).toMatch(/✔ {2}Outbound call CA[0-9a-f]{32}: completed/);
    expect(stdout).toMatch(/📨 CRM received call\.completed \(webhook-id msg_[0-9a-f]{32}\), direction: outbound, signature verified ✔/);
  }, 90_000);

  it('keeps placing calls, each with its own CallSid, until SIGINT closes everything', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, ['src/sandbox/demo.ts', '--delay', '0', '--every', '1'], { env: envFor(port) });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    // The second call's completion as it is printed, or the demo ending before it.
    const twoCalls = new Promise<void>((resolve) => {
      child.stdout.on('data', () => [...stdout.matchAll(completedCall)].length >= 2 && resolve());
      void exited.then(() => resolve());
    });
    try {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([twoCalls, new Promise<void>((resolve) => (timer = setTimeout(resolve, 100_000)))]).finally(() => clearTimeout(timer));
      const sids = [...stdout.matchAll(completedCall)].map((match) => match[1]);
      expect(sids, `stdout:\n${stdout}\nstderr:\n${stderr}`).toHaveLength(2);
      expect(new Set(sids).size).toBe(2);
      // The first call had finished its pipeline before the second began.
      expect(stdout.indexOf('📨 CRM received call.completed')).toBeLessThan(stdout.lastIndexOf('☎  Sarah'));
      expect(stdout).toContain('Next call in 1 s');

      // Stopped in the middle of the second call's pipeline.
      child.kill('SIGINT');
      const stopTimer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const [code, signal] = await exited.finally(() => clearTimeout(stopTimer));
      expect(stderr).toBe('');
      expect({ code, signal }).toEqual({ code: 0, signal: null });
      expect(stdout).toContain('Stopping: closing Callwatch and the stand-ins');
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    }
  }, 150_000);

  it('rejects an unknown flag with the usage line and exit code 2', async () => {
    const { code, stdout, stderr } = await runDemo(['--bogus'], envFor(await freePort()));
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain("Unknown option '--bogus'");
    expect(stderr).toContain('Usage: npm run demo --');
  });
});
