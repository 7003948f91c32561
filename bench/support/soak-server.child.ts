/**
 * The Callwatch of bench:soak, forked by it with an IPC channel and `--expose-gc`: the api
 * role with production settings (startBenchApp) on BENCH_DATABASE_URL, with the variables
 * in BENCH_SERVER_ENV (JSON), and the bench's tenant seeded. On `sample` it reports its own
 * memory — after two forced collections when asked, so what is left is what is still
 * referenced — and the handles that keep its event loop alive, counted by kind.
 */
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';
import { startBenchApp } from './app.ts';
import { runChild } from './forked-process.ts';
import { seedScenario } from './scenario.ts';

/** Bench → server. */
export type SoakMessage = { type: 'sample'; gc: boolean } | { type: 'snapshot'; file: string } | { type: 'close' };

export interface MemorySample {
  rssBytes: number;
  heapUsedBytes: number;
  /** Of the heap used, compiled code and bytecode (V8's code and trusted spaces): grows as the JIT warms up, not with what calls leave behind. */
  codeBytes: number;
  /** Live handles and requests by kind (process.getActiveResourcesInfo()), e.g. TCPSocketWrap, Timeout. */
  resources: Record<string, number>;
}

/** Server → bench. */
export type SoakServerMessage = { type: 'up'; url: string } | ({ type: 'sampled' } & MemorySample) | { type: 'written'; file: string } | { type: 'failed'; message: string };

function send(message: SoakServerMessage): void {
  process.send?.(message);
}

function sample(gc: boolean): MemorySample {
  if (gc) {
    if (!globalThis.gc) throw new Error('start the soak server with --expose-gc');
    // Twice: the first pass runs finalizers that free more for the second.
    globalThis.gc();
    globalThis.gc();
  }
  const resources: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) resources[kind] = (resources[kind] ?? 0) + 1;
  const memory = process.memoryUsage();
  const codeBytes = getHeapSpaceStatistics()
    .filter((space) => /code|trusted/.test(space.space_name))
    .reduce((sum, space) => sum + space.space_used_size, 0);
  return { rssBytes: memory.rss, heapUsedBytes: memory.heapUsed, codeBytes, resources };
}

async function main(): Promise<void> {
  const databaseUrl = process.env.BENCH_DATABASE_URL;
  if (!databaseUrl) throw new Error('BENCH_DATABASE_URL is not set');
  const env = JSON.parse(process.env.BENCH_SERVER_ENV ?? '{}') as Record<string, string>;
  const app = await startBenchApp(databaseUrl, { env });
  if (!app.http) throw new Error('the api role started no HTTP server');
  await seedScenario(app.services.orm.em);
  process.on('message', (raw) => {
    const message = raw as SoakMessage;
    switch (message.type) {
      case 'sample':
        return send({ type: 'sampled', ...sample(message.gc) });
      case 'snapshot':
        // SOAK_HEAP_SNAPSHOTS: a heap snapshot to compare, to find what grows.
        return send({ type: 'written', file: writeHeapSnapshot(message.file) });
      case 'close':
        void app.close().then(() => process.exit(0));
    }
  });
  send({ type: 'up', url: app.http.url });
}

runChild(main);
