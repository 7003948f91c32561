import { randomBytes } from 'node:crypto';
import type { Orm } from '../../src/core/db.ts';
import { Call } from '../../src/entities/call.entity.ts';
import { inboundCallParams, postTwilioWebhook, streamOf, twilioAccountSid } from '../../test/support/twilio.ts';
import { benchEnvironment } from './app.ts';
import { until } from './args.ts';
import { freePort } from '../../src/sandbox/ports.ts';
import { MediaStreamCaller } from './media-stream-caller.ts';
import { startChildServer, type ChildServer } from './process-usage.ts';
import type { RealtimeTap, TappedSession } from './realtime-tap.ts';
import { benchCallSid, businessNumber, callerNumber } from './scenario.ts';

/** Both ends of one live call: Twilio's side and the OpenAI stand-in's session. */
export interface LiveCall {
  caller: MediaStreamCaller;
  upstream: TappedSession;
}

/** A relay under test: started as a child process, taking calls the way it takes them. */
export interface RelayTarget {
  name: string;
  start(): Promise<ChildServer & { url: string; metricsToken?: string }>;
  /** Sets up call `i` through the relay at `url`; resolves once audio can flow both ways. */
  setUpCall(url: string, i: number): Promise<LiveCall>;
  /** After the calls ended: what the relay should have done with them, and a problem if it did not. */
  afterCalls?(): Promise<{ note: string; problem?: string }>;
}

/** A relay of the benchmark's own, in a child process: bench/bare-relay.ts or bench/minimal-relay.ts. */
export function plainRelay(tap: RealtimeTap, apiKey: string, name: string, file: string): RelayTarget {
  return {
    name,
    async start() {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const env = { ...process.env, PORT: String(port), OPENAI_REALTIME_URL: tap.url, OPENAI_API_KEY: apiKey };
      const child = await startChildServer([new URL(file, import.meta.url).pathname], env, `${url}/health`);
      return { ...child, url };
    },
    async setUpCall(url, i) {
      const upstream = tap.nextConnection();
      const caller = await MediaStreamCaller.connect(`${url.replace(/^http/, 'ws')}/twilio/media`, { callSid: benchCallSid(0, i), token: 'none' });
      caller.start();
      return { caller, upstream: await upstream };
    },
  };
}

/** How a Callwatch under test reports on itself: the two sides of bench:relay's A/B. */
export type Telemetry =
  /** Metrics on and scraped every `scrapeEveryMs` as Prometheus would, traces exported over OTLP/HTTP to `otlpUrl`. */
  | { kind: 'on'; otlpUrl: string; scrapeEveryMs: number }
  /** Tracing off (no endpoint) and every metric call a no-op (bench/callwatch-metrics-off.ts); nobody scrapes. */
  | { kind: 'off' };

/** What a Callwatch with telemetry on has had scraped. */
export interface ScrapeTally {
  scrapes: number;
  failed: number;
  bytes: number;
}

/**
 * Callwatch as deployed: `node src/main.ts`, production settings, the api role (the
 * pipeline worker would only add unrelated load), on the benchmark's database. Calls come
 * in through the signed voice webhook; the stream presents the token from the TwiML.
 * `telemetry` picks the side of the metrics-and-tracing A/B; `scraped` counts the scrapes.
 */
export function callwatch(tap: RealtimeTap, apiKey: string, databaseUrl: string, orm: Orm, name: string, telemetry: Telemetry, scraped?: ScrapeTally): RelayTarget {
  const run = randomBytes(4).readUInt32BE(0);
  const callSids: string[] = [];
  return {
    name,
    async start() {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const env = {
        ...process.env,
        ...benchEnvironment(databaseUrl, {
          OPENAI_API_KEY: apiKey,
          OPENAI_REALTIME_URL: tap.url,
          PORT: String(port),
          LOG_LEVEL: 'warn',
          // Recording is off for the bench business: Twilio's REST API is never called.
          TWILIO_API_URL: 'http://127.0.0.1:9',
          ...(telemetry.kind === 'on' ? { OTEL_EXPORTER_OTLP_ENDPOINT: telemetry.otlpUrl } : {}),
        }),
      };
      if (telemetry.kind === 'off') delete env.OTEL_EXPORTER_OTLP_ENDPOINT;
      const entry = telemetry.kind === 'on' ? '../../src/main.ts' : '../callwatch-metrics-off.ts';
      const child = await startChildServer([new URL(entry, import.meta.url).pathname], env, `${url}/ready`);
      const metricsToken = env.METRICS_TOKEN ?? '';
      if (telemetry.kind === 'off') return { ...child, url, metricsToken };
      const stopScraping = scrapeMetrics(`${url}/metrics`, metricsToken, telemetry.scrapeEveryMs, scraped ?? { scrapes: 0, failed: 0, bytes: 0 });
      return {
        ...child,
        url,
        metricsToken,
        stop: (timeoutMs) => {
          stopScraping();
          return child.stop(timeoutMs);
        },
      };
    },
    async setUpCall(url, i) {
      const callSid = benchCallSid(run, i);
      callSids.push(callSid);
      const response = await postTwilioWebhook(url, '/twilio/voice', inboundCallParams({ accountSid: twilioAccountSid, callSid, from: callerNumber, to: businessNumber }));
      if (response.status !== 200) throw new Error(`voice webhook answered ${response.status}: ${response.body}`);
      const upstream = tap.nextConnection();
      const caller = await MediaStreamCaller.connect(`${url.replace(/^http/, 'ws')}/twilio/media`, { callSid, token: streamOf(response.body).token });
      const tapped = await upstream;
      caller.start();
      // Configured and greeted (the stand-in streams its greeting at once): the call is live.
      await tapped.session.waitForReceived('session.update', 5_000);
      await tapped.session.waitForSent('response.done', 5_000);
      return { caller, upstream: tapped };
    },
    async afterCalls() {
      const written = async () => orm.em.fork().count(Call, { callSid: { $in: callSids }, status: 'completed' });
      await until(async () => (await written()) === callSids.length, 'every call to be written down', 20_000, 50).catch(() => {});
      const count = await written();
      const note = `${count}/${callSids.length} calls through ${name} written down after they ended`;
      return count === callSids.length ? { note } : { note, problem: note };
    },
  };
}

/** GETs `url` every `everyMs` with the bearer token, as a Prometheus server would, until the returned function is called. */
function scrapeMetrics(url: string, token: string, everyMs: number, tally: ScrapeTally): () => void {
  const scrape = async () => {
    try {
      const response = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(everyMs) });
      const body = await response.arrayBuffer();
      if (response.status !== 200) throw new Error(`status ${response.status}`);
      tally.scrapes += 1;
      tally.bytes += body.byteLength;
    } catch {
      tally.failed += 1;
    }
  };
  const timer = setInterval(() => void scrape(), everyMs);
  return () => clearInterval(timer);
}
