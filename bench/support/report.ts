import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';

/** BENCHMARKS.md at the repository root. */
const benchmarksFile = new URL('../../BENCHMARKS.md', import.meta.url);

/** What the figures were measured on; the machine is shared, so it goes next to them. */
export function machine(): string {
  const cpu = cpus();
  const memGiB = (totalmem() / 2 ** 30).toFixed(1);
  return `${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${cpu.length} cores, ${memGiB} GiB RAM, Linux ${release()}, Node ${process.version}`;
}

/** The commit measured, `+ changes` when the working tree differs from it. */
export function revision(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no', '--', 'src', 'migrations'], { encoding: 'utf8' }).trim() !== '';
    return dirty ? `${head} + uncommitted changes` : head;
  } catch {
    return 'unknown revision';
  }
}

function release(): string {
  try {
    return execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim();
  } catch {
    return '?';
  }
}

/**
 * The command that ran this benchmark, as someone would type it: `npm run <script> -- args`
 * under npm, `node <file> args` otherwise.
 */
export function commandLine(script: string, file: string): string {
  const args = process.argv.slice(2);
  const tail = args.length > 0 ? ` ${args.join(' ')}` : '';
  return process.env.npm_lifecycle_event === script ? `npm run ${script}${args.length > 0 ? ' --' : ''}${tail}` : `node ${file}${tail}`;
}

/**
 * Replaces the figures of section `id` in BENCHMARKS.md — everything between
 * `<!-- bench:ID -->` and `<!-- /bench:ID -->` — and leaves the rest of the file alone. A
 * section not there yet is appended under `heading`.
 */
export function writeSection(id: string, heading: string, body: string): void {
  const open = `<!-- bench:${id} -->`;
  const close = `<!-- /bench:${id} -->`;
  const block = `${open}\n${body.trim()}\n${close}`;
  const current = existsSync(benchmarksFile) ? readFileSync(benchmarksFile, 'utf8') : '# Benchmarks\n';
  const start = current.indexOf(open);
  const end = current.indexOf(close);
  const next =
    start >= 0 && end > start
      ? current.slice(0, start) + block + current.slice(end + close.length)
      : `${current.trimEnd()}\n\n## ${heading}\n\n${block}\n`;
  writeFileSync(benchmarksFile, next);
}
