import twilio from 'twilio';
import type RequestClient from 'twilio/lib/base/RequestClient.js';
import type * as HttpResponse from 'twilio/lib/http/response.js';

/** Where the SDK sends REST calls: `https://api.twilio.com`, or a regional/edge host like `https://api.sydney.au1.twilio.com`. */
const TWILIO_API_ORIGIN = /^https:\/\/api(?:\.[a-z0-9-]+)*\.twilio\.com(?=[/?]|$)/;

export interface TwilioClientOptions {
  accountSid: string;
  authToken: string;
  /** Base URL of Twilio's REST API (`TWILIO_API_URL`); default `https://api.twilio.com`. */
  apiUrl?: string;
}

/**
 * The SDK's HTTP client, sending what it would send to api.twilio.com to another base URL
 * instead — the local Twilio stand-in in tests and the demo. The SDK's own edge/region
 * settings cannot do that: they only rename the host within twilio.com.
 *
 * Invariant: only the origin changes; path, query, body, headers and Basic auth are the SDK's.
 */
class RebasedRequestClient extends twilio.RequestClient {
  readonly #apiUrl: string;

  constructor(apiUrl: string) {
    super();
    this.#apiUrl = apiUrl;
  }

  override request<TData>(opts: RequestClient.RequestOptions<TData>): Promise<HttpResponse.default<TData>> {
    return super.request<TData>({ ...opts, uri: opts.uri.replace(TWILIO_API_ORIGIN, this.#apiUrl) });
  }
}

/**
 * A Twilio REST client (official SDK) for one account. With `apiUrl` other than Twilio's,
 * every request to the REST API goes there instead (same paths, auth and form bodies).
 */
export function createTwilioClient(options: TwilioClientOptions): twilio.Twilio {
  const apiUrl = (options.apiUrl ?? 'https://api.twilio.com').replace(/\/+$/, '');
  const rebased = apiUrl !== 'https://api.twilio.com';
  return twilio(options.accountSid, options.authToken, rebased ? { httpClient: new RebasedRequestClient(apiUrl) } : {});
}
