import twilio from 'twilio';
import type RequestClient from 'twilio/lib/base/RequestClient.js';
import type * as HttpResponse from 'twilio/lib/http/response.js';
import type { Metrics } from './metrics.ts';

/** Where the SDK sends REST calls: `https://api.twilio.com`, or a regional/edge host like `https://api.sydney.au1.twilio.com`. */
const TWILIO_API_ORIGIN = /^https:\/\/api(?:\.[a-z0-9-]+)*\.twilio\.com(?=[/?]|$)/;

export interface TwilioClientOptions {
  accountSid: string;
  authToken: string;
  /** Base URL of Twilio's REST API (`TWILIO_API_URL`); default `https://api.twilio.com`. */
  apiUrl?: string;
  /** Counts every REST request that fails in `twilio_rest_errors_total`, by Twilio's error code. */
  metrics?: Metrics;
}

/**
 * The SDK's HTTP client, sending what it would send to api.twilio.com to another base URL
 * instead — the local Twilio stand-in in tests and the demo (the SDK's own edge/region
 * settings cannot do that: they only rename the host within twilio.com) — and counting the
 * requests that fail.
 *
 * Invariant: only the origin changes; path, query, body, headers and Basic auth are the SDK's.
 */
class CallwatchRequestClient extends twilio.RequestClient {
  readonly #apiUrl: string | undefined;
  readonly #metrics: Metrics | undefined;

  constructor(apiUrl: string | undefined, metrics: Metrics | undefined) {
    super();
    this.#apiUrl = apiUrl;
    this.#metrics = metrics;
  }

  override async request<TData>(opts: RequestClient.RequestOptions<TData>): Promise<HttpResponse.default<TData>> {
    const uri = this.#apiUrl === undefined ? opts.uri : opts.uri.replace(TWILIO_API_ORIGIN, this.#apiUrl);
    let response: HttpResponse.default<TData>;
    try {
      response = await super.request<TData>({ ...opts, uri });
    } catch (error) {
      this.#metrics?.incrementLabeled('twilio_rest_errors_total', 'network');
      throw error;
    }
    if (response.statusCode >= 400) this.#metrics?.incrementLabeled('twilio_rest_errors_total', twilioErrorCode(response.statusCode, response.body));
    return response;
  }
}

/**
 * Twilio's error code from a failed response's body (`{"code": 20404, …}`), else its HTTP
 * status: the codes are a fixed catalogue, and Metrics bounds the label values anyway.
 */
function twilioErrorCode(status: number, body: unknown): string {
  let parsed = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      parsed = undefined;
    }
  }
  const code = typeof parsed === 'object' && parsed !== null ? (parsed as { code?: unknown }).code : undefined;
  return typeof code === 'number' ? String(code) : String(status);
}

/**
 * A Twilio REST client (official SDK) for one account. With `apiUrl` other than Twilio's,
 * every request to the REST API goes there instead (same paths, auth and form bodies).
 */
export function createTwilioClient(options: TwilioClientOptions): twilio.Twilio {
  const apiUrl = (options.apiUrl ?? 'https://api.twilio.com').replace(/\/+$/, '');
  const rebased = apiUrl !== 'https://api.twilio.com';
  if (!rebased && !options.metrics) return twilio(options.accountSid, options.authToken);
  return twilio(options.accountSid, options.authToken, { httpClient: new CallwatchRequestClient(rebased ? apiUrl : undefined, options.metrics) });
}
