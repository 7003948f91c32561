import { setTimeout as sleep } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { EventLog } from './event-log.ts';
import { twilioSid } from './ids.ts';
import { BYTES_PER_MS, SILENCE_BYTE, bytesToDuration, silence } from './mulaw.ts';
import type { ConnectedMessage, DtmfMessage, InboundMediaMessage, ReturnedMarkMessage, ServerToTwilioMessage, StartMessage, StopMessage, TwilioToServerMessage } from './twilio-media.messages.ts';
import { parseServerMessage } from './twilio-media.messages.ts';
import { PlaybackQueue, type PlaybackPace } from './twilio-playback.ts';

/** Twilio sends 20 ms of μ-law per media message. */
export const FRAME_BYTES = 20 * BYTES_PER_MS;
/** In 'instant' pace, let the event loop run after this many frames (1 s of audio). */
const FRAMES_PER_YIELD = 50;

export interface SimulatedCallerOptions {
  callSid?: string;
  streamSid?: string;
  accountSid?: string;
  /** The `<Parameter>`s of the `<Stream>` TwiML, delivered in the `start` message. */
  customParameters?: Record<string, string>;
  /** How the caller's speaker plays the agent's audio (when marks come back); default 'realtime'. */
  playback?: PlaybackPace;
  /**
   * At 'realtime' playback, how long after it arrives the caller hears the agent's audio
   * (network and jitter buffer), so marks come back that much later than the send clock
   * says; default 120 ms (DEFAULT_PLAYBACK_DELAY_MS). Ignored at 'instant'.
   */
  playbackDelayMs?: number;
  /** Extra headers for the websocket upgrade (Twilio sends X-Twilio-Signature). */
  headers?: Record<string, string>;
}

/** 'realtime': one frame per 20 ms, as a phone call; 'instant': as fast as the socket takes them. */
export type SendPace = 'realtime' | 'instant';

/**
 * A phone caller as the server sees it through Twilio Media Streams: it opens the stream
 * (`connected`, then `start` on `start()`), speaks μ-law in 20 ms `media` frames, and
 * plays what the server sends after the line's delay — returning each `mark` only after
 * the audio before it has been heard, and every pending mark at once on `clear`, as
 * Twilio does.
 *
 * Invariants: outbound frames go out in order even when `play` calls overlap; every
 * message Twilio sends carries the next sequence number; after close no timer is left.
 */
export class SimulatedCaller {
  readonly callSid: string;
  readonly streamSid: string;
  readonly accountSid: string;
  /** Every valid message received from the server, in order. */
  readonly events: ServerToTwilioMessage[];
  /** When each of `events` arrived (`performance.now()`). */
  readonly eventTimes: readonly number[];
  /** Messages Twilio would have rejected, with why. */
  readonly invalid: { raw: string; reason: string }[] = [];
  /** Every message sent to the server, in order. */
  readonly sent: TwilioToServerMessage[] = [];
  /** Resolves when the websocket has closed. */
  readonly closed: Promise<{ code: number; reason: string }>;

  #socket: WebSocket;
  #customParameters: Record<string, string>;
  #log = new EventLog<ServerToTwilioMessage>('message from the server');
  #playback: PlaybackQueue;
  #received: Buffer[] = [];
  #sequence = 0;
  #chunk = 0;
  /** Media time no frame was sent for (`skip`): Twilio's timestamps count it, its chunks do not. */
  #skippedMs = 0;
  #outbound: Promise<void> = Promise.resolve();

  private constructor(socket: WebSocket, options: SimulatedCallerOptions) {
    this.#socket = socket;
    this.callSid = options.callSid ?? twilioSid('CA');
    this.streamSid = options.streamSid ?? twilioSid('MZ');
    this.accountSid = options.accountSid ?? twilioSid('AC');
    this.#customParameters = options.customParameters ?? {};
    this.events = this.#log.items;
    this.eventTimes = this.#log.times;
    this.#playback = new PlaybackQueue({
      pace: options.playback ?? 'realtime',
      delayMs: options.playbackDelayMs,
      onMarkPlayed: (name) => this.#send({ event: 'mark', sequenceNumber: this.#nextSequence(), streamSid: this.streamSid, mark: { name } } satisfies ReturnedMarkMessage),
    });
    this.closed = new Promise((resolve) => {
      socket.once('close', (code, reason) => {
        this.#playback.close();
        this.#log.close('websocket closed');
        resolve({ code, reason: reason.toString() });
      });
    });
    socket.on('message', (data) => this.#onMessage(data.toString()));
  }

  /** Opens the media stream websocket to `url` and sends `connected`. */
  static async connect(url: string, options: SimulatedCallerOptions = {}): Promise<SimulatedCaller> {
    const socket = new WebSocket(url, { headers: options.headers });
    // A failed socket also closes, and `closed` reports that; the error itself needs a listener.
    socket.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
      socket.once('unexpected-response', (request, response) => {
        reject(new Error(`media stream upgrade refused: HTTP ${response.statusCode}`));
        request.destroy();
      });
    });
    const caller = new SimulatedCaller(socket, options);
    caller.#send({ event: 'connected', protocol: 'Call', version: '1.0.0' } satisfies ConnectedMessage);
    return caller;
  }

  /** Sends `start` with the stream's metadata and custom parameters. */
  start(): void {
    this.#send({
      event: 'start',
      sequenceNumber: this.#nextSequence(),
      start: {
        accountSid: this.accountSid,
        streamSid: this.streamSid,
        callSid: this.callSid,
        tracks: ['inbound'],
        customParameters: this.#customParameters,
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      },
      streamSid: this.streamSid,
    } satisfies StartMessage);
  }

  /** Speaks μ-law audio in 20 ms frames (the last one padded with silence). Resolves when all are sent. */
  play(audio: Buffer, options: { pace?: SendPace } = {}): Promise<void> {
    const run = this.#outbound.then(() => this.#sendFrames(audio, options.pace ?? 'realtime'));
    this.#outbound = run.catch(() => {});
    return run;
  }

  /** Sends `ms` of silence, as an open line does between words. */
  silence(ms: number, options: { pace?: SendPace } = {}): Promise<void> {
    return this.play(silence(ms), options);
  }

  /**
   * Loses `ms` of the caller's audio on the way, as a network dropping packets does: no
   * frames are sent for it, and the next frame's `timestamp` is `ms` later than it would
   * have been (its `chunk` is the next one: Twilio numbers the messages it sends). In order
   * with `play`; at 'realtime' pace it also takes `ms`.
   */
  skip(ms: number, options: { pace?: SendPace } = {}): Promise<void> {
    const run = this.#outbound.then(async () => {
      this.#skippedMs += ms;
      if ((options.pace ?? 'realtime') === 'realtime') await sleep(ms);
    });
    this.#outbound = run.catch(() => {});
    return run;
  }

  /** Presses a key (a `dtmf` message). */
  pressKey(digit: string): void {
    this.#send({ event: 'dtmf', sequenceNumber: this.#nextSequence(), streamSid: this.streamSid, dtmf: { track: 'inbound_track', digit } } satisfies DtmfMessage);
  }

  /** Sends anything, as is — for malformed-input tests. */
  sendRaw(data: string | Buffer): void {
    this.#socket.send(data);
  }

  /** Sends `stop`, as Twilio does when the call ends. */
  stop(): void {
    this.#send({ event: 'stop', sequenceNumber: this.#nextSequence(), stop: { accountSid: this.accountSid, callSid: this.callSid }, streamSid: this.streamSid } satisfies StopMessage);
  }

  /** Closes the websocket and waits until it has closed. */
  async close(code = 1000, reason = ''): Promise<{ code: number; reason: string }> {
    if (this.#socket.readyState === WebSocket.CONNECTING || this.#socket.readyState === WebSocket.OPEN) this.#socket.close(code, reason);
    return this.closed;
  }

  /** All agent audio received, concatenated (μ-law). */
  receivedAudio(): Buffer {
    return Buffer.concat(this.#received);
  }

  /** Names of the marks returned to the server so far, in order. */
  returnedMarks(): string[] {
    return this.sent.flatMap((message) => (message.event === 'mark' ? [message.mark.name] : []));
  }

  /** How many `media` messages the server sent. */
  get mediaFrames(): number {
    return this.#received.length;
  }

  /** Milliseconds of agent audio the caller has heard so far (audio dropped by `clear` is never heard). */
  heardMs(): number {
    return bytesToDuration(this.#playback.playedBytes());
  }

  /** The first server message matching `predicate`, already received or still to come. */
  waitFor<S extends ServerToTwilioMessage>(predicate: ((message: ServerToTwilioMessage) => message is S) | ((message: ServerToTwilioMessage) => boolean), timeoutMs = 5_000, options?: { after?: number }): Promise<S> {
    return this.#log.waitFor<S>(predicate, timeoutMs, options);
  }

  async #sendFrames(audio: Buffer, pace: SendPace): Promise<void> {
    const startedAt = performance.now();
    for (let offset = 0, frame = 0; offset < audio.length; offset += FRAME_BYTES, frame++) {
      if (this.#socket.readyState !== WebSocket.OPEN) return;
      if (pace === 'realtime') {
        // Schedule from the start, not the previous frame, so timer lateness does not add up.
        const due = startedAt + frame * 20 - performance.now();
        if (due > 0) await sleep(due);
      } else if (frame > 0 && frame % FRAMES_PER_YIELD === 0) {
        await new Promise((resolve) => setImmediate(resolve));
      }
      const payload = Buffer.alloc(FRAME_BYTES, SILENCE_BYTE);
      audio.copy(payload, 0, offset, offset + FRAME_BYTES);
      this.#chunk++;
      this.#send({
        event: 'media',
        sequenceNumber: this.#nextSequence(),
        media: { track: 'inbound', chunk: String(this.#chunk), timestamp: String((this.#chunk - 1) * 20 + this.#skippedMs), payload: payload.toString('base64') },
        streamSid: this.streamSid,
      } satisfies InboundMediaMessage);
    }
  }

  #onMessage(raw: string): void {
    const parsed = parseServerMessage(raw, this.streamSid);
    if (!parsed.ok) {
      this.invalid.push({ raw, reason: parsed.reason });
      return;
    }
    const message = parsed.message;
    if (message.event === 'media') {
      const audio = Buffer.from(message.media.payload, 'base64');
      this.#received.push(audio);
      this.#playback.enqueueAudio(audio.length);
    }
    // Logged before the mark can come back, so a test sees the cause before the effect.
    this.#log.push(message);
    if (message.event === 'mark') this.#playback.enqueueMark(message.mark.name);
    if (message.event === 'clear') this.#playback.clear();
  }

  #nextSequence(): string {
    this.#sequence++;
    return String(this.#sequence);
  }

  #send(message: TwilioToServerMessage): void {
    if (this.#socket.readyState !== WebSocket.OPEN) return;
    this.#socket.send(JSON.stringify(message));
    this.sent.push(message);
  }
}
