import type { AddressInfo } from 'node:net';
import type { Config } from './core/config.ts';
import { describeError } from './core/errors.ts';
import { openDatabaseServer } from './core/db.ts';
import { migrate, openOrm, resealSecrets } from './database.ts';
import { createEventBus } from './core/events.ts';
import { openRedisBus } from './core/redis-bus.ts';
import { Lifecycle } from './core/lifecycle.ts';
import { createLogger, type Logger } from './core/logger.ts';
import { Metrics } from './core/metrics.ts';
import { closeMetricsServer, createMetricsHandler, startMetricsServer } from './metrics-endpoint.ts';
import { checkOpenAIModels } from './core/openai-models.ts';
import { JobQueue } from './core/queue.ts';
import { startTracing } from './core/tracing.ts';
import type { SpanExporter } from '@opentelemetry/sdk-trace';
import { secretBoxOf } from './core/secret-box.ts';
import type { Services } from './core/services.ts';
import { callDrainSeconds } from './realtime/call-drain.ts';
import { createRealtime, type RealtimeOptions } from './realtime/index.ts';
import { startInstanceHeartbeat } from './realtime/instance-heartbeat.ts';
import { twilioRecorder } from './realtime/twilio-line/recording.ts';
import { startServer, type HttpServer } from './server.ts';
import { startWorkers } from './worker.ts';
import type { JobHandlers } from './workers/index.ts';
import { startLostCallSweep } from './workers/lost-calls.ts';

export interface Callwatch {
  services: Services;
  /** The HTTP server, when this process runs the api role. */
  http: HttpServer | undefined;
  /**
   * Graceful shutdown: stop taking work, let live calls finish (up to
   * SHUTDOWN_CALL_DRAIN_SEC), finish or release jobs, close everything.
   */
  close: () => Promise<void>;
  /** Base URL /metrics is served under, when this process serves it. */
  metricsUrl: string | undefined;
  /** During close: ends the calls' drain now (they hear their goodbye and are written). */
  endCallsNow: () => void;
}

export interface StartOptions {
  logger?: Logger;
  /** Observe every SQL statement on the ORM's connections (tests count them). */
  onStatement?: (sql: string) => void;
  /** Job handlers to run instead of the built-in ones (tests). */
  jobHandlers?: JobHandlers;
  /** Starts a call's recording; default: Twilio's REST API when Twilio is configured. */
  startRecording?: RealtimeOptions['startRecording'];
  /** Called when something the process depends on dies underneath it. */
  onFatal?: (reason: string) => void;
  /** How long an OpenAI session pre-opened by the voice webhook waits for its stream (tests shorten it). */
  preopenTtlMs?: number;
  /** Spans go here as they end, whether or not OTEL_EXPORTER_OTLP_ENDPOINT is set (tests). */
  spanExporter?: SpanExporter;
}

/**
 * The composition root: opens the database (embedded when DATABASE_URL is unset) while it
 * asks OpenAI for the role's models, applies migrations, starts the queue, then the roles
 * the config asks for. Every resource is registered with the lifecycle as soon as it
 * opens, so a failure at any step closes what was opened before it and rethrows.
 */
export async function startCallwatch(config: Config, options: StartOptions = {}): Promise<Callwatch> {
  const logger = options.logger ?? createLogger({ level: config.logLevel });
  const lifecycle = new Lifecycle(logger);
  // In parallel with the database's start; awaited before anything is written.
  const modelCheckAbort = new AbortController();
  const modelCheck = checkOpenAIModels(config, logger, { signal: modelCheckAbort.signal });
  // A failure before the await below is not this promise's to report.
  modelCheck.catch(() => {});
  try {
    // First to open, last to close: the spans of calls ended during shutdown are exported.
    const tracing = startTracing({ ...config.tracing, exporter: options.spanExporter });
    if (tracing) lifecycle.add('tracing', tracing.shutdown);

    const database = await openDatabaseServer({
      databaseUrl: config.databaseUrl,
      dataDir: config.dataDir,
      embeddedPort: config.embeddedPostgresPort,
      logger,
      onFatal: (reason) => options.onFatal?.(reason),
    });
    lifecycle.add('database server', database.stop);

    const orm = await openOrm(database.url, { onStatement: options.onStatement });
    lifecycle.add('orm', () => orm.close());
    await modelCheck;
    // Stored secrets are sealed with APP_SECRET before anything reads them; a key that
    // opens none of them stops the start here, with an error naming APP_SECRET.
    if (config.migrateOnStart) {
      const applied = await migrate(orm, secretBoxOf(config));
      if (applied.length > 0) logger.info({ migrations: applied }, 'migrations applied');
    } else {
      await resealSecrets(orm, secretBoxOf(config));
    }

    const queue = await JobQueue.start({ url: database.url, logger });
    lifecycle.add('queue', () => queue.stop(config.shutdownTimeoutMs));

    // In-process unless REDIS_URL is set; then shared by every instance on that Redis.
    const metrics = new Metrics({ processMetrics: true });
    // Read on scrape only. With pg-boss's database unreachable the family has no samples
    // in that scrape (the rest of /metrics still answers) and the reason is logged.
    metrics.gaugeLabeled('queue_jobs', () =>
      queue.depths().then(
        (depths) => depths.map(({ queue: name, state, jobs }) => ({ labels: { queue: name, state }, value: jobs })),
        (error: unknown) => {
          logger.warn({ err: describeError(error) }, 'metrics: cannot read the queue depth');
          return [];
        },
      ),
    );
    let bus = createEventBus();
    if (config.redisUrl) {
      const redis = await openRedisBus(config.redisUrl, logger, metrics);
      lifecycle.add('event bus', redis.close);
      bus = redis.bus;
    }

    const services: Services = { config, logger, orm, queue, bus, metrics };

    let metricsUrl: string | undefined;
    if (config.role === 'worker') metricsUrl = await serveWorkerMetrics(services, lifecycle);
    if (config.role === 'all' || config.role === 'worker') {
      await startWorkers(services, options.jobHandlers);
      // Closes the calls of API instances that died (their heartbeats stopped).
      const sweep = startLostCallSweep(services);
      lifecycle.add('lost calls sweep', sweep.stop);
    }
    let http: HttpServer | undefined;
    let endCallsNow = () => {};
    if (config.role === 'all' || config.role === 'api') {
      const realtime = createRealtime(services, { startRecording: options.startRecording ?? twilioRecorder(config, services.metrics), preopenTtlMs: options.preopenTtlMs });
      // After the migrations and the queue: the call ends an earlier run spilled at its shutdown.
      await realtime.replaySpilledWrites();
      // Before the first call: what answers calls if Postgres goes away.
      await realtime.warmRoutes();
      const server = await startServer(services, realtime).catch(async (error: unknown) => {
        await realtime.close(0);
        throw error;
      });
      http = server;
      // Lists the calls held here every few seconds; deleted once the calls below are written.
      const heartbeat = startInstanceHeartbeat(services, realtime.heldCalls);
      lifecycle.add('instance heartbeat', heartbeat.stop);
      // Shutdown runs these bottom-up: /ready answers 503 (new calls go elsewhere), the
      // calls finish — or, at the drain's end, say goodbye — and are written while the
      // queue and ORM they need are still open; then what is left of HTTP closes.
      lifecycle.add('http server', () => server.close());
      lifecycle.add('calls', async () => realtime.close(realtime.busy() ? (await callDrainSeconds(services)) * 1000 : 0));
      lifecycle.add('readiness', () => server.drain());
      endCallsNow = realtime.endCallsNow;
    }

    logger.info({ role: config.role, env: config.env, embeddedDatabase: database.embedded }, 'callwatch started');
    metricsUrl ??= http?.metricsUrl ?? (http && config.metrics.port === undefined ? http.url : undefined);
    return { services, http, metricsUrl, close: () => lifecycle.close(), endCallsNow: () => endCallsNow() };
  } catch (error) {
    modelCheckAbort.abort();
    await lifecycle.close();
    throw error;
  }
}

/**
 * A worker process has no HTTP server: with METRICS_PORT it serves /metrics on a listener
 * of its own (METRICS_TOKEN applies as on the API). Without METRICS_PORT it serves none.
 */
async function serveWorkerMetrics(services: Services, lifecycle: Lifecycle): Promise<string | undefined> {
  const { port } = services.config.metrics;
  if (port === undefined) {
    services.logger.info('METRICS_PORT is not set: this worker serves no /metrics');
    return undefined;
  }
  const server = await startMetricsServer(port, createMetricsHandler(services));
  lifecycle.add('metrics server', () => closeMetricsServer(server));
  const address = server.address() as AddressInfo;
  services.logger.info({ port: address.port }, 'metrics server listening');
  return `http://127.0.0.1:${address.port}`;
}
