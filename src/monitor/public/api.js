import { createClient } from './vendor/graphql-ws.js';

/**
 * Callwatch's GraphQL API as the console uses it: queries and mutations over HTTP with the
 * key as a Bearer token, subscriptions over one graphql-ws socket with the key in
 * `connectionParams`. The socket reconnects by itself (with backoff) and resubscribes;
 * a refused key (4403, or 401 over HTTP) ends the session instead.
 */

/** @typedef {'connecting' | 'live' | 'reconnecting' | 'rejected'} ConnectionState */

export class ApiError extends Error {
  /**
   * @param {'rejected' | 'network' | 'graphql'} kind
   * @param {string} message
   * @param {string | undefined} [code] GraphQL error code (FORBIDDEN, NOT_FOUND, VALIDATION_FAILED, …)
   */
  constructor(kind, message, code) {
    super(message);
    this.kind = kind;
    this.code = code;
  }
}

export class Api {
  /** @type {import('./vendor/graphql-ws.js').Client | undefined} */
  #socket;
  #key;
  #onState;
  #onReconnected;

  /**
   * @param {string} key
   * @param {{ onState: (state: ConnectionState) => void; onReconnected: () => void }} handlers
   *   `onReconnected`: the socket came back after a drop — events sent meanwhile were missed.
   */
  constructor(key, { onState, onReconnected }) {
    this.#key = key;
    this.#onState = onState;
    this.#onReconnected = onReconnected;
  }

  /**
   * Runs a query or mutation; resolves with `data`, rejects with an ApiError.
   *
   * @param {string} query
   * @param {Record<string, unknown>} [variables]
   * @returns {Promise<any>}
   */
  async request(query, variables = {}) {
    let response;
    try {
      response = await fetch('/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', authorization: `Bearer ${this.#key}` },
        body: JSON.stringify({ query, variables }),
      });
    } catch (error) {
      throw new ApiError('network', error instanceof Error ? error.message : String(error));
    }
    if (response.status === 401) throw new ApiError('rejected', 'the API key was refused');
    /** @type {{ data?: any; errors?: { message: string; extensions?: { code?: string } }[] } | undefined} */
    const body = await response.json().catch(() => undefined);
    if (!body) throw new ApiError('network', `HTTP ${response.status}`);
    const first = body.errors?.[0];
    if (first) throw new ApiError('graphql', first.message, first.extensions?.code);
    return body.data;
  }

  /**
   * Subscribes; `onData` gets each result's `data`. Returns the function that unsubscribes.
   *
   * @param {string} query
   * @param {Record<string, unknown>} variables
   * @param {(data: any) => void} onData
   * @param {(error: ApiError) => void} onError
   */
  subscribe(query, variables, onData, onError) {
    return this.#client().subscribe(
      { query, variables },
      {
        next: (result) => {
          const first = result.errors?.[0];
          if (first) return onError(new ApiError('graphql', first.message, /** @type {string | undefined} */ (first.extensions?.code)));
          onData(result.data);
        },
        error: (error) => onError(new ApiError('network', describe(error))),
        complete: () => {},
      },
    );
  }

  /** Closes the socket for good (signing out). */
  close() {
    void this.#socket?.dispose();
    this.#socket = undefined;
  }

  #client() {
    if (this.#socket) return this.#socket;
    const url = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/graphql`;
    let everConnected = false;
    this.#socket = createClient({
      url,
      connectionParams: { apiKey: this.#key },
      lazy: false,
      // A ping every 10 s notices a dead connection the network did not report.
      keepAlive: 10_000,
      retryAttempts: Number.POSITIVE_INFINITY,
      retryWait: async (retries) => new Promise((resolve) => setTimeout(resolve, Math.min(1_000 * 2 ** retries, 15_000) * (0.8 + Math.random() * 0.4))),
      shouldRetry: (reason) => !isRefusal(reason),
      onNonLazyError: () => {},
      on: {
        connecting: (isRetry) => this.#onState(isRetry || everConnected ? 'reconnecting' : 'connecting'),
        connected: (_socket, _payload, wasRetry) => {
          this.#onState('live');
          if (wasRetry || everConnected) this.#onReconnected();
          everConnected = true;
        },
        closed: (reason) => {
          if (isRefusal(reason)) this.#onState('rejected');
        },
      },
    });
    return this.#socket;
  }
}

/** @param {unknown} reason */
function isRefusal(reason) {
  return typeof reason === 'object' && reason !== null && 'code' in reason && reason.code === 4403;
}

/** @param {unknown} error */
function describe(error) {
  if (error instanceof Error) return error.message;
  if (typeof error === 'object' && error !== null && 'code' in error) return `connection closed (${String(error.code)})`;
  return String(error);
}
