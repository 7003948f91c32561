/**
 * A Callwatch of bench:graphql-oversized, forked by it with an IPC channel (Node runs it as
 * TypeScript by type stripping): the api role with production settings (startBenchApp) on
 * the database in BENCH_DATABASE_URL, with the variables in BENCH_SERVER_ENV (JSON) — the
 * GraphQL limits of the variant. It watches its own event loop, the one a deployment's
 * calls share, with perf_hooks' monitorEventLoopDelay (10 ms sampling), from `measure`
 * (which resets the histogram) to `pause`, when it reports it. The histogram keeps
 * sampling in between: re-enabled, its first sample would span the pause. A `pause` is
 * answered only once the loop is free again, so a stall that began in the window is in
 * the figures.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { startBenchApp } from './app.ts';
import { runChild } from './forked-process.ts';

/** Bench → server. */
export type BenchMessage = { type: 'measure' } | { type: 'pause' } | { type: 'close' };

/** Event-loop delay over a measuring window, ms; an idle loop reads about 10 (the sampling interval). */
export interface LoopDelay {
  p50: number;
  p99: number;
  max: number;
}

/** Server → bench. */
export type ServerMessage = { type: 'up'; url: string } | ({ type: 'paused' } & LoopDelay) | { type: 'failed'; message: string };

function send(message: ServerMessage): void {
  process.send?.(message);
}

const loop = monitorEventLoopDelay({ resolution: 10 });

async function main(): Promise<void> {
  const databaseUrl = process.env.BENCH_DATABASE_URL;
  if (!databaseUrl) throw new Error('BENCH_DATABASE_URL is not set');
  const env = JSON.parse(process.env.BENCH_SERVER_ENV ?? '{}') as Record<string, string>;
  const app = await startBenchApp(databaseUrl, { env });
  loop.enable();
  if (!app.http) throw new Error('the api role started no HTTP server');
  process.on('message', (raw) => {
    const message = raw as BenchMessage;
    switch (message.type) {
      case 'measure':
        loop.reset();
        return;
      case 'pause': {
        const ms = (ns: number) => ns / 1e6;
        return send({ type: 'paused', p50: ms(loop.percentile(50)), p99: ms(loop.percentile(99)), max: ms(loop.max) });
      }
      case 'close':
        void app.close().then(() => process.exit(0));
    }
  });
  send({ type: 'up', url: app.http.url });
}

runChild(main);
