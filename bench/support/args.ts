import { parseArgs } from 'node:util';

/**
 * Parses `--name N` options of positive whole numbers, with defaults. Unknown options and
 * bad values exit with a usage line instead of running a benchmark nobody asked for.
 */
export function numberOptions<K extends string>(usage: string, defaults: Record<K, number>): Record<K, number> {
  const names = Object.keys(defaults) as K[];
  try {
    const { values } = parseArgs({
      options: Object.fromEntries(names.map((name) => [name, { type: 'string' as const }])),
      strict: true,
      allowPositionals: false,
    });
    const parsed = { ...defaults };
    for (const name of names) {
      const raw = values[name];
      if (raw === undefined) continue;
      const value = Number(raw);
      if (typeof raw !== 'string' || !Number.isInteger(value) || value <= 0) throw new Error(`--${name} must be a positive whole number`);
      parsed[name] = value;
    }
    return parsed;
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\nusage: ${usage}\n`);
    process.exit(2);
  }
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` every `everyMs` until it holds; rejects naming `what` after `timeoutMs`. */
export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5_000, everyMs = 2): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/**
 * Ends the process with a message if the benchmark is still running after `ms`: every
 * benchmark stops by itself, even when something it waits for never comes. Ctrl-C and
 * SIGTERM end it through process.exit too, so the exit hooks run that stop the embedded
 * database and the child processes and remove temporary directories.
 */
export function deadline(ms: number, what: string): void {
  setTimeout(() => {
    process.stderr.write(`${what}: gave up after ${Math.round(ms / 1000)} s\n`);
    process.exit(1);
  }, ms).unref();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`${what}: interrupted (${signal})\n`);
      process.exit(130);
    });
  }
}
