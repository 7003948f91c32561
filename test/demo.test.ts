import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { fixtureText } from '../src/sandbox/fixtures.ts';
import { useTestDatabase } from './support/database.ts';
import { freePort } from '../src/sandbox/ports.ts';

describe('npm run demo', () => {
  const db = useTestDatabase();

  it('plays a whole Hebrew call against the stand-ins and exits cleanly', async () => {
    const port = await freePort();
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ['src/sandbox/demo.ts'],
        { env: { PATH: process.env.PATH, DATABASE_URL: db.database.url, PORT: String(port) }, timeout: 60_000 },
        (error, out, err) => resolve({ code: error ? ((error.code as number | undefined) ?? 1) : 0, stdout: out, stderr: err }),
      );
    });
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain(`🤖 agent : ${fixtureText('agent-greeting')}`);
    expect(stdout).toContain(`👤 caller: ${fixtureText('caller-booking')}`);
    expect(stdout).toMatch(/✔ {2}Call CA[0-9a-f]{32}: completed, \d+ s, 3 turns stored/);
    expect(stdout).toContain('Recording requested from Twilio: yes');
    for (const step of ['download', 'transcribe', 'summarize', 'extract', 'deliver']) expect(stdout).toContain(`⚙ ${step}: done`);
    expect(stdout).toMatch(/📨 CRM received call\.completed \(webhook-id msg_[0-9a-f]{32}\), signature verified ✔/);
    expect(stdout).toContain('city: חיפה · service: שיפוץ מטבח');
    const watched = /👀 Supervisor over graphql-ws: (\d+) call events, (\d+) audio chunks/.exec(stdout);
    expect(Number(watched?.[1])).toBeGreaterThan(10);
    expect(Number(watched?.[2])).toBeGreaterThan(100);
  }, 90_000);
});
