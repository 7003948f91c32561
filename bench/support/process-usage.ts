import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time and resident memory of a process, from /proc (Linux): user + system time of all
 * its threads, and VmRSS. Sampled at the start and end of a measuring window, the CPU
 * difference over the wall time is the share of one core the process used.
 */
export interface ProcessSample {
  at: number;
  /** User + system time. */
  cpuMs: number;
  /** System time alone: syscalls and, on loopback, most of the TCP stack's work. */
  systemMs: number;
  rssBytes: number;
}

const ticksPerSecond = clockTicks();

function clockTicks(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}

export function sampleProcess(pid: number): ProcessSample {
  const at = performance.now();
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const user = Number(fields[11]);
  const system = Number(fields[12]);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKiB = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? Number.NaN);
  return { at, cpuMs: ((user + system) / ticksPerSecond) * 1000, systemMs: (system / ticksPerSecond) * 1000, rssBytes: rssKiB * 1024 };
}

/**
 * CPU time of a process and its children, in ms: its own, that of the children still
 * running, and that of the children it has already reaped (cutime + cstime). For a server
 * that forks a process per connection (Postgres), the difference between two samples is
 * what the server and all its backends used in between, however many came and went.
 */
export function sampleProcessTree(pid: number): { at: number; cpuMs: number } {
  const at = performance.now();
  const ticks = (fields: string[], ...indexes: number[]) => indexes.reduce((sum, index) => sum + Number(fields[index] ?? 0), 0);
  // Fields after the command name (field 2): ppid is field 4, utime 14, stime 15, cutime 16, cstime 17.
  const statFields = (id: string) => {
    const stat = readFileSync(`/proc/${id}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  };
  let total = ticks(statFields(String(pid)), 11, 12, 13, 14);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || entry === String(pid)) continue;
    try {
      const fields = statFields(entry);
      if (fields[1] === String(pid)) total += ticks(fields, 11, 12);
    } catch {
      // It exited while the list was read: its time is in the parent's cutime now, or will be.
    }
  }
  return { at, cpuMs: (total / ticksPerSecond) * 1000 };
}

/** The parent of `pid` (e.g. the postmaster of a Postgres backend), or null when /proc does not show it. */
export function parentPid(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return Number.isInteger(ppid) && ppid > 1 ? ppid : null;
  } catch {
    return null;
  }
}

/**
 * Time of all cores together, from /proc/stat, in clock ticks: busy (this machine's own
 * work), stolen (the hypervisor ran someone else while we wanted the CPU) and total.
 */
export interface MachineSample {
  busy: number;
  steal: number;
  total: number;
}

export function sampleMachine(): MachineSample {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line.trim().split(/\s+/).slice(1).map(Number);
  const busy = user + nice + system + irq + softirq;
  return { busy, steal, total: busy + steal + idle + iowait };
}

/** Shares of the machine's cores that were busy and stolen between two samples, 0–1 each. */
export function machineLoad(from: MachineSample, to: MachineSample): { busy: number; steal: number } {
  const total = to.total - from.total;
  if (total <= 0) return { busy: Number.NaN, steal: Number.NaN };
  return { busy: (to.busy - from.busy) / total, steal: (to.steal - from.steal) / total };
}

export interface ChildServer {
  pid: number;
  /** The last few kilobytes it wrote to stdout and stderr. */
  output(): string;
  /** SIGTERM, then SIGKILL if it has not exited after `timeoutMs`; resolves with its exit code. */
  stop(timeoutMs?: number): Promise<number | null>;
}

/**
 * Starts `node <args>` as a child on this machine's Node, with `env`, and resolves once
 * `readyUrl` answers 200. Fails with its output if it exits first or is not ready in
 * `timeoutMs`. A child left behind by a crash of this process is killed on exit.
 */
export async function startChildServer(args: string[], env: NodeJS.ProcessEnv, readyUrl: string, timeoutMs = 60_000): Promise<ChildServer> {
  // BENCH_CHILD_NODE_ARGS go to the child's node only, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`.
  const nodeArgs = process.env.BENCH_CHILD_NODE_ARGS?.split(/\s+/).filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...nodeArgs, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-8_192);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);
  let gone = false;
  void exited.then(() => {
    gone = true;
    process.off('exit', killOnExit);
  });

  const stop = async (stopTimeoutMs = 15_000) => {
    if (!gone) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), stopTimeoutMs);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  };

  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (gone) throw new Error(`${args.join(' ')} exited during start-up:\n${output}`);
    const status = await fetch(readyUrl, { signal: AbortSignal.timeout(1_000) }).then(
      async (response) => {
        await response.arrayBuffer();
        return response.status;
      },
      () => 0,
    );
    if (status === 200) break;
    if (performance.now() > deadline) {
      await stop(2_000);
      throw new Error(`${args.join(' ')} not ready after ${timeoutMs} ms:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  if (child.pid === undefined) throw new Error('child process has no pid');
  return { pid: child.pid, output: () => output, stop };
}
