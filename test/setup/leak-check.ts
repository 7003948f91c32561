import { afterAll, beforeAll } from 'vitest';

/**
 * Fails a test file that leaves something open: a socket, a server, a child process, a
 * worker's timer. Node lists every live handle in process.getActiveResourcesInfo(); the
 * list is read before the file's own hooks run and again after all of them, when it must
 * be back where it started. Closing sockets take a few milliseconds to disappear, so the
 * check gives them a short grace period before it fails.
 */

let baseline = new Map<string, number>();

beforeAll(() => {
  baseline = countResources();
});

afterAll(async () => {
  const deadline = Date.now() + 1_000;
  let leaked = leakedResources();
  while (leaked.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    leaked = leakedResources();
  }
  if (leaked.length > 0) {
    throw new Error(`test file left resources open: ${leaked.join(', ')} — close every server, socket, worker and timer it started`);
  }
});

function countResources(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo()) counts.set(type, (counts.get(type) ?? 0) + 1);
  return counts;
}

function leakedResources(): string[] {
  const leaked: string[] = [];
  for (const [type, count] of countResources()) {
    const extra = count - (baseline.get(type) ?? 0);
    if (extra > 0) leaked.push(`${extra} × ${type}`);
  }
  return leaked;
}
