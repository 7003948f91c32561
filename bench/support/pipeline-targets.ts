import { loadConfig } from '../../src/core/config.ts';
import { claimBatchSize } from '../../src/core/queue.ts';
import { freePort } from '../../src/sandbox/ports.ts';
import type { OpenAIApiStandIn } from '../../src/sandbox/openai-api.server.ts';
import type { TwilioApiStandIn } from '../../src/sandbox/twilio-api.server.ts';
import { callEnvironment } from '../../test/support/twilio.ts';
import { benchEnvironment } from './app.ts';
import { startChildServer, type ChildServer } from './process-usage.ts';

/** The outside world both pipelines talk to, all in the benchmark process. */
export interface PipelineWorld {
  databaseUrl: string;
  openai: OpenAIApiStandIn;
  twilio: TwilioApiStandIn;
  /** Where the business's `call.completed` webhooks go. */
  webhookUrl: string;
  webhookSecret: string;
  /** The APP_SECRET that sealed the webhook secret; Callwatch's pipeline runs with it. */
  appSecret: string;
  businessId: string;
}

/** A pipeline under test: a child process that takes Twilio's recording callbacks at `url`. */
export interface PipelineTarget {
  name: string;
  child: ChildServer & { url: string };
  /** How its workers run, for the report. */
  workers?: string;
}

/**
 * Callwatch as deployed: `node src/main.ts`, production settings, both roles in one process
 * (ROLE=all: the callback handler and the pg-boss workers), the default worker settings
 * unless this process's environment sets them (WORKER_CONCURRENCY), webhooks allowed to
 * loopback.
 */
export async function startCallwatchPipeline(world: PipelineWorld): Promise<PipelineTarget> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const childEnv = {
    ...process.env,
    ...benchEnvironment(world.databaseUrl, {
      ROLE: 'all',
      APP_SECRET: world.appSecret,
      PORT: String(port),
      LOG_LEVEL: 'warn',
      OPENAI_API_KEY: world.openai.apiKey,
      OPENAI_BASE_URL: world.openai.url,
      TWILIO_API_URL: world.twilio.url,
      WEBHOOK_ALLOWED_NETWORKS: '127.0.0.0/8',
    }),
  };
  const { workerConcurrency: concurrency, workerPollIntervalMs } = loadConfig(childEnv);
  const batch = claimBatchSize(concurrency);
  const workers = `${concurrency} jobs at once per queue, claimed by ${concurrency / batch} pg-boss workers ${batch} at a time, polling every ${workerPollIntervalMs / 1000} s`;
  const child = await startChildServer([new URL('../../src/main.ts', import.meta.url).pathname], childEnv, `${url}/ready`);
  return { name: 'Callwatch', child: { ...child, url }, workers };
}

/** The baseline (bench/bare-pipeline.ts): the same requests per call, nothing durable. */
export async function startBarePipeline(world: PipelineWorld): Promise<PipelineTarget> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const childEnv = {
    ...process.env,
    ...callEnvironment({
      PORT: String(port),
      OPENAI_API_KEY: world.openai.apiKey,
      OPENAI_BASE_URL: world.openai.url,
      TWILIO_API_URL: world.twilio.url,
      WEBHOOK_URL: world.webhookUrl,
      WEBHOOK_SECRET: world.webhookSecret,
      BUSINESS_ID: world.businessId,
    }),
  };
  const child = await startChildServer([new URL('../bare-pipeline.ts', import.meta.url).pathname], childEnv, `${url}/health`);
  return { name: 'bare pipeline', child: { ...child, url } };
}
