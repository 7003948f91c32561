import WebSocket from 'ws';
import type { ConnectedMessage, InboundMediaMessage, ReturnedMarkMessage, StartMessage, StopMessage, TwilioToServerMessage } from '../../src/sandbox/twilio-media.messages.ts';
import { twilioSid } from '../../src/sandbox/ids.ts';

/**
 * Twilio's side of one media stream, lean enough to run hundreds at 50 frames a second
 * next to the server under test: the same messages as the sandbox's SimulatedCaller
 * (`connected`, `start` with the token, `media`, `stop`; marks returned as soon as they
 * arrive, as if played instantly), but it keeps nothing it receives and hands each media
 * payload to `onMedia` the moment it arrives, so its arrival can be timed.
 */
export class MediaStreamCaller {
  readonly callSid: string;
  readonly streamSid = twilioSid('MZ');
  readonly accountSid = twilioSid('AC');
  /** Called with each media payload the server sends, on arrival. */
  onMedia: (payload: string) => void = () => {};
  /** Messages that were not JSON, or media for another stream. */
  invalid = 0;
  marks = 0;
  clears = 0;
  readonly closed: Promise<void>;
  #socket: WebSocket;
  #token: string;
  #sequence = 0;
  #chunk = 0;

  private constructor(socket: WebSocket, callSid: string, token: string) {
    this.#socket = socket;
    this.callSid = callSid;
    this.#token = token;
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('message', (data) => this.#onMessage(data.toString()));
  }

  /** Opens the media stream websocket and sends `connected`; rejects after `timeoutMs`. */
  static async connect(url: string, options: { callSid: string; token: string; timeoutMs?: number }): Promise<MediaStreamCaller> {
    const socket = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: options.timeoutMs ?? 5_000 });
    socket.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
      socket.once('unexpected-response', (request, response) => {
        reject(new Error(`media stream upgrade refused: HTTP ${response.statusCode}`));
        request.destroy();
      });
    });
    const caller = new MediaStreamCaller(socket, options.callSid, options.token);
    caller.#send({ event: 'connected', protocol: 'Call', version: '1.0.0' } satisfies ConnectedMessage);
    return caller;
  }

  start(): void {
    this.#send({
      event: 'start',
      sequenceNumber: this.#next(),
      start: {
        accountSid: this.accountSid,
        streamSid: this.streamSid,
        callSid: this.callSid,
        tracks: ['inbound'],
        customParameters: { token: this.#token },
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      },
      streamSid: this.streamSid,
    } satisfies StartMessage);
  }

  /** Sends one 20 ms frame of caller audio (base64 μ-law). */
  sendMedia(payload: string): void {
    this.#chunk++;
    this.#send({
      event: 'media',
      sequenceNumber: this.#next(),
      media: { track: 'inbound', chunk: String(this.#chunk), timestamp: String((this.#chunk - 1) * 20), payload },
      streamSid: this.streamSid,
    } satisfies InboundMediaMessage);
  }

  stop(): void {
    this.#send({ event: 'stop', sequenceNumber: this.#next(), stop: { accountSid: this.accountSid, callSid: this.callSid }, streamSid: this.streamSid } satisfies StopMessage);
  }

  /** Closes the websocket (if the server has not) and waits until it has closed. */
  async close(): Promise<void> {
    if (this.#socket.readyState === WebSocket.CONNECTING || this.#socket.readyState === WebSocket.OPEN) this.#socket.close(1000);
    await this.closed;
  }

  /** Cuts the connection without a close handshake. */
  terminate(): void {
    this.#socket.terminate();
  }

  #onMessage(raw: string): void {
    let message: { event?: unknown; streamSid?: unknown; media?: { payload?: unknown }; mark?: { name?: unknown } };
    try {
      message = JSON.parse(raw) as typeof message;
    } catch {
      this.invalid++;
      return;
    }
    if (message.streamSid !== this.streamSid) {
      this.invalid++;
      return;
    }
    if (message.event === 'media' && typeof message.media?.payload === 'string') return this.onMedia(message.media.payload);
    if (message.event === 'mark' && typeof message.mark?.name === 'string') {
      this.marks++;
      this.#send({ event: 'mark', sequenceNumber: this.#next(), streamSid: this.streamSid, mark: { name: message.mark.name } } satisfies ReturnedMarkMessage);
      return;
    }
    if (message.event === 'clear') return void this.clears++;
    this.invalid++;
  }

  #next(): string {
    return String(++this.#sequence);
  }

  #send(message: TwilioToServerMessage): void {
    if (this.#socket.readyState === WebSocket.OPEN) this.#socket.send(JSON.stringify(message));
  }
}
