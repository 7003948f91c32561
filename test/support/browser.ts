import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium, which `.ci/run` installs with apt when it is missing. */
export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Where browser tests leave their screenshots (kept out of git). */
export const artifactsDir = fileURLToPath(new URL('../artifacts/', import.meta.url));

/**
 * Why browser tests cannot run here, or undefined when they can. On CI a missing browser
 * is a failure, not a skip: `.ci/run` is supposed to have installed it.
 */
export function browserUnavailable(): string | undefined {
  if (existsSync(chromiumPath)) return undefined;
  const reason = `no Chromium at ${chromiumPath} (apt-get install chromium, or set CHROMIUM_PATH)`;
  if (process.env.CI) throw new Error(`browser tests must run on CI: ${reason}`);
  return reason;
}

/** Headless Chromium, as the issue prescribes: no sandbox (root in CI), no background traffic. */
export async function launchBrowser(): Promise<Browser> {
  mkdirSync(artifactsDir, { recursive: true });
  return chromium.launch({
    executablePath: chromiumPath,
    args: ['--no-sandbox', '--headless', '--disable-background-networking'],
  });
}
