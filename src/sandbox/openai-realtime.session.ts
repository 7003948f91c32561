import type { WebSocket } from 'ws';
import type { RealtimeError, RealtimeErrorEvent, RealtimeResponse, RealtimeServerEvent, SessionCreatedEvent } from 'openai/resources/realtime/realtime';
import { EventLog } from './event-log.ts';
import { openaiId } from './ids.ts';
import { bytesToDuration } from './mulaw.ts';
import { parseClientEvent, type ClientEvent, type ClientEventError, type ClientEventOf } from './openai-realtime.client-events.ts';
import { Conversation, type Truncation } from './openai-realtime.conversation.ts';
import { defaultTranscriptionDelayMs, InputTranscription, type TranscriptionFailure } from './openai-realtime.input-transcription.ts';
import { REALTIME_MODELS, TRANSCRIPTION_MODELS } from './openai-realtime.models.ts';
import { ResponseSteering, type Pace, type ResponseBehaviourOptions } from './openai-realtime.response-behaviour.ts';
import { ScriptQueue, type ScriptedFailure, type SessionScript } from './openai-realtime.script.ts';
import { defaultSession, mergeSession, SESSION_MAX_MS, sessionExpiredMessage, transcribesInput, turnDetectionOf, voiceOf, type SessionConfig } from './openai-realtime.session-config.ts';
import { validateSessionUpdate } from './openai-realtime.session-validation.ts';
import { StreamedResponse, type ActiveResponse } from './openai-realtime.streamed-response.ts';
import type { ToolOutput } from './openai-realtime.tool-call.ts';
import { transcribedUserItem, userAudioTurn } from './openai-realtime.user-turn.ts';
import { VoiceActivityDetector } from './voice-activity.ts';

type Of<U, K> = Extract<U, { type: K }>;

export type { Truncation } from './openai-realtime.conversation.ts';
export type { TranscriptionFailure } from './openai-realtime.input-transcription.ts';
export type { ToolOutput } from './openai-realtime.tool-call.ts';

/** A `response.create` the stand-in ran: the instructions it carried for that response, if any. */
export interface ResponseRequest {
  instructions: string | null;
}

/** How a session is set up; everything but `model` and `pace` has the real service's default. */
export interface StandInSessionOptions {
  model: string;
  pace: Pace;
  script?: SessionScript;
  /** Realtime models a `session.update` may name (default REALTIME_MODELS). */
  models?: Iterable<string>;
  /** Input transcription models a `session.update` may name (default TRANSCRIPTION_MODELS). */
  transcriptionModels?: Iterable<string>;
  /** How long after a commit its transcript arrives (default: see `defaultTranscriptionDelayMs`). */
  transcriptionDelayMs?: number;
  /** When the session expires, after it began (default 60 min, OpenAI's cap). */
  sessionMaxMs?: number;
  /** How untidy responses are (response.done gap, bursts, late deltas…; see ResponseBehaviourOptions). */
  responses?: ResponseBehaviourOptions;
}

/**
 * One Realtime websocket connection to the stand-in: the server side of the GA protocol
 * for a single conversation, plus what tests inspect and steer.
 *
 * Invariants: at most one response is active; every item the session hands out is in
 * its conversation; after the socket closes nothing is sent and no timer is left.
 */
export class StandInSession {
  /** The session id (`sess_…`) reported in `session.created`. */
  readonly id: string;
  readonly model: string;
  /** Every conversation.item.truncate accepted, in order. */
  readonly truncations: Truncation[] = [];
  /** Messages that were not valid client events, with the error sent back. */
  readonly rejected: { raw: string; error: ClientEventError }[] = [];
  /** Resolves when the socket has closed, with the close code and reason. */
  readonly closed: Promise<{ code: number; reason: string }>;

  #socket: WebSocket;
  #pace: Pace;
  #config: SessionConfig;
  #received = new EventLog<ClientEvent>('OpenAI client event');
  #sent = new EventLog<RealtimeServerEvent>('OpenAI server event');
  #toolOutputs = new EventLog<ToolOutput>('OpenAI tool output');
  #responseRequests: ResponseRequest[] = [];
  #script = new ScriptQueue();
  #vad = new VoiceActivityDetector();
  #conversation = new Conversation({ send: (event) => this.send(event), error: (error, eventId) => this.#error(error, eventId) });
  #active: ActiveResponse | undefined;
  #inputBytes = 0;
  /** Input audio not yet committed to a user item: the "input audio buffer". */
  #inputBytesSinceCommit = 0;
  /** The user item id announced by speech_started, used again by speech_stopped. */
  #speechItemId: string | undefined;
  #models: ReadonlySet<string>;
  #transcriptionModels: Set<string>;
  #transcription: InputTranscription;
  #maxMs: number;
  #expiry: NodeJS.Timeout;

  #responses: ResponseSteering;
  /** Server VAD ended a turn while the active response was ending: answer it once that response is done. */
  #respondWhenDone = false;

  constructor(socket: WebSocket, options: StandInSessionOptions) {
    this.#socket = socket;
    this.#pace = options.pace;
    this.#responses = new ResponseSteering(options.pace, options.responses);
    this.model = options.model;
    this.#models = new Set(options.models ?? REALTIME_MODELS);
    this.#transcriptionModels = new Set(options.transcriptionModels ?? TRANSCRIPTION_MODELS);
    this.#transcription = new InputTranscription({ delayMs: options.transcriptionDelayMs ?? defaultTranscriptionDelayMs(options.pace), send: (event) => this.send(event) });
    this.#maxMs = options.sessionMaxMs ?? SESSION_MAX_MS;
    this.#config = defaultSession(options.model, this.#maxMs);
    this.id = this.#config.id;
    if (options.script) this.#script.set(options.script);
    this.#configureVad();
    this.#expiry = setTimeout(() => this.expire(), this.#maxMs);
    this.closed = new Promise((resolve) => {
      socket.once('close', (code, reason) => {
        clearTimeout(this.#expiry);
        this.#transcription.stop();
        this.#active?.abandon();
        this.#active = undefined;
        this.#received.close('socket closed');
        this.#sent.close('socket closed');
        this.#toolOutputs.close('socket closed');
        resolve({ code, reason: reason.toString() });
      });
    });
    // A protocol error (a bad frame, a reset) closes the socket; `closed` reports it.
    socket.on('error', () => {});
    socket.on('message', (data) => this.#onMessage(data.toString()));
    this.send({ type: 'session.created', event_id: openaiId('event'), session: this.#config } satisfies SessionCreatedEvent);
  }

  /** Every client event parsed, in order. */
  get received(): readonly ClientEvent[] {
    return this.#received.items;
  }

  /** When each client event in `received` arrived, and each event in `sent` went out (`performance.now()`). */
  get times(): { received: readonly number[]; sent: readonly number[] } {
    return { received: this.#received.times, sent: this.#sent.times };
  }

  /** Every server event sent, in order (including ones injected with `send`). */
  get sent(): readonly RealtimeServerEvent[] {
    return this.#sent.items;
  }

  /** Every `function_call_output` the client added, in order. */
  get toolOutputs(): readonly ToolOutput[] {
    return this.#toolOutputs.items;
  }

  /** Every client `response.create` that started a response, in order (VAD's own responses are not here). */
  get responseRequests(): readonly ResponseRequest[] {
    return this.#responseRequests;
  }

  /** The session as last reported to the client. */
  get config(): SessionConfig {
    return this.#config;
  }

  /** Milliseconds of input audio appended since the session began. */
  get inputAudioMs(): number {
    return bytesToDuration(this.#inputBytes);
  }

  /** Sets what the agent says next and what the caller is heard to say (see SessionScript). */
  script(script: SessionScript): void {
    this.#script.set(script);
  }

  /** Sends any server event, e.g. an `error` or a `rate_limits.updated`. */
  send(event: RealtimeServerEvent): void {
    if (this.#socket.readyState !== this.#socket.OPEN) return;
    this.#socket.send(JSON.stringify(event));
    this.#sent.push(event);
  }

  /**
   * Sends a GA `error` event, as the API does when something fails on its side
   * (`type` defaults to 'server_error'; no `param`, no client `event_id`).
   */
  sendError(error: { type?: string; code?: string; message: string }): RealtimeErrorEvent {
    const event: RealtimeErrorEvent = {
      type: 'error',
      event_id: openaiId('event'),
      error: { type: error.type ?? 'server_error', code: error.code ?? null, message: error.message, param: null, event_id: null },
    };
    this.send(event);
    return event;
  }

  /** From now on, `response.done` comes `ms` after a response's last output event (0: the next macrotask). */
  delayResponseDone(ms: number): void {
    this.#responses.delayResponseDone(ms);
  }

  /**
   * From now on, a response's first output (a spoken one's first audio delta) comes `ms`
   * after its `response.created`, as OpenAI takes a while to start speaking (0: at once).
   */
  delayFirstAudio(ms: number): void {
    this.#responses.delayFirstAudio(ms);
  }

  /**
   * The next client `response.create` that would start a response finds one already
   * started, as when server VAD answered the caller a moment before it arrived: the
   * server's response plays the next scripted reply, the client's gets
   * `conversation_already_has_active_response`.
   */
  raceNextResponseCreate(): void {
    this.#responses.raceNextResponseCreate();
  }

  /**
   * The next accepted `function_call_output`, when no response is active, gets a response
   * of the server's own (the next scripted reply), as the API sometimes does (pipecat#3960).
   */
  autoRespondToNextToolOutput(): void {
    this.#responses.autoRespondToNextToolOutput();
  }

  /**
   * The next response — the client's or VAD's — ends `failed` with no output (a rate limit
   * by default, see ScriptedFailure); the scripted reply it would have played stays queued.
   */
  failNextResponse(failure: ScriptedFailure = {}): void {
    this.#responses.failNextResponse(failure);
  }

  /** Destroys the socket without a close handshake, like a network failure. */
  drop(): void {
    this.#socket.terminate();
  }

  /** Closes the socket cleanly, as the server would at the session's end. */
  close(code = 1000, reason = ''): void {
    this.#socket.close(code, reason);
  }

  /**
   * Ends the session now as OpenAI does at its cap (`sessionMaxMs`): an `error`
   * (`invalid_request_error`, `session_expired`), then a close with code 1001.
   */
  expire(): void {
    clearTimeout(this.#expiry);
    this.sendError({ type: 'invalid_request_error', code: 'session_expired', message: sessionExpiredMessage(this.#maxMs) });
    this.close(1001);
  }

  /** From now on, a caller turn's transcript arrives `ms` after its commit. */
  delayTranscription(ms: number): void {
    this.#transcription.delay(ms);
  }

  /**
   * The next caller turn transcribed gets `conversation.item.input_audio_transcription.failed`
   * instead of its transcript (each call fails one more); `error`'s fields replace the
   * default's (`transcription_error`, `audio_unintelligible`). The turn still uses up its
   * scripted caller transcript.
   */
  failNextTranscription(error?: TranscriptionFailure): void {
    this.#transcription.failNext(error);
  }

  /** From now on, a `session.update` naming this transcription model is rejected, as for a retired model. */
  rejectTranscriptionModel(model: string): void {
    this.#transcriptionModels.delete(model);
  }

  /** The first client event of this type, already received or still to come. */
  waitForReceived<K extends ClientEvent['type']>(type: K, timeoutMs?: number, options?: { after?: number }): Promise<Of<ClientEvent, K>> {
    return this.#received.waitFor((event): event is Of<ClientEvent, K> => event.type === type, timeoutMs, options);
  }

  /** The first server event of this type, already sent or still to come. */
  waitForSent<K extends RealtimeServerEvent['type']>(type: K, timeoutMs?: number, options?: { after?: number }): Promise<Of<RealtimeServerEvent, K>> {
    return this.#sent.waitFor((event): event is Of<RealtimeServerEvent, K> => event.type === type, timeoutMs, options);
  }

  /** The first `function_call_output` for `callId` (or any, without one), already added or still to come. */
  waitForToolOutput(callId?: string, timeoutMs?: number): Promise<ToolOutput> {
    return this.#toolOutputs.waitFor((output) => callId === undefined || output.callId === callId, timeoutMs);
  }

  #onMessage(raw: string): void {
    const parsed = parseClientEvent(raw);
    if (!parsed.ok) {
      this.rejected.push({ raw, error: parsed.error });
      this.#error(parsed.error);
      return;
    }
    this.#received.push(parsed.event);
    this.#handle(parsed.event);
  }

  #handle(event: ClientEvent): void {
    switch (event.type) {
      case 'session.update':
        return this.#updateSession(event);
      case 'input_audio_buffer.append':
        return this.#appendAudio(Buffer.from(event.audio, 'base64'));
      case 'input_audio_buffer.commit':
        return this.#commitManually(event.event_id);
      case 'input_audio_buffer.clear':
        this.#inputBytesSinceCommit = 0;
        this.#speechItemId = undefined;
        this.#vad.reset();
        return this.send({ type: 'input_audio_buffer.cleared', event_id: openaiId('event') });
      case 'response.create':
        if (!this.#active && this.#responses.takeRace()) this.#respond();
        if (this.#active) {
          return this.#error({ code: 'conversation_already_has_active_response', message: `Conversation already has an active response in progress: ${this.#active.responseId}. Wait until the response is finished before creating a new one.` }, event.event_id);
        }
        this.#responseRequests.push({ instructions: event.response?.instructions ?? null });
        return this.#respond(event.response?.metadata, event.response?.instructions);
      case 'response.cancel':
        if (!this.#active || (event.response_id !== undefined && event.response_id !== this.#active.responseId)) {
          return this.#error({ code: 'response_cancel_not_active', message: 'Cancellation failed: no active response found.' }, event.event_id);
        }
        return this.#active.cancel('client_cancelled');
      case 'conversation.item.create': {
        // The API does not answer a function call's output by itself, VAD or not, unless told to (autoRespondToNextToolOutput).
        const item = this.#conversation.create(event);
        if (item?.type !== 'function_call_output') return;
        this.#toolOutputs.push({ callId: item.call_id, output: item.output });
        if (!this.#active && this.#responses.takeAutoRespond()) this.#respond();
        return;
      }
      case 'conversation.item.truncate': {
        const truncation = this.#conversation.truncate(event);
        if (truncation) this.truncations.push(truncation);
        return;
      }
      case 'conversation.item.delete':
        return this.#conversation.delete(event);
      case 'conversation.item.retrieve':
        return this.#conversation.retrieve(event);
      case 'output_audio_buffer.clear':
        return this.#error({ code: 'invalid_value', message: 'output_audio_buffer.clear is only supported for WebRTC connections.', param: 'type' }, event.event_id);
    }
  }

  #updateSession(event: ClientEventOf<'session.update'>): void {
    if (event.session.type !== 'realtime') {
      return this.#error({ code: 'invalid_value', message: "Cannot change a 'realtime' session to a transcription session.", param: 'session.type' }, event.event_id);
    }
    // An invalid update is refused whole: the session keeps what it had.
    const invalid = validateSessionUpdate(event.session, { models: this.#models, transcriptionModels: this.#transcriptionModels });
    if (invalid) return this.#error(invalid, event.event_id);
    const next = mergeSession(this.#config, event.session);
    if (this.#conversation.hasAssistantAudio && voiceOf(next) !== voiceOf(this.#config)) {
      return this.#error({ code: 'cannot_update_voice', message: 'Cannot update a conversation\'s voice if assistant audio is present.', param: 'session.audio.output.voice' }, event.event_id);
    }
    this.#config = next;
    this.#configureVad();
    this.send({ type: 'session.updated', event_id: openaiId('event'), session: this.#config });
  }

  #configureVad(): void {
    const detection = turnDetectionOf(this.#config);
    this.#vad.configure({ silenceDurationMs: detection?.silenceDurationMs, prefixPaddingMs: detection?.prefixPaddingMs });
  }

  #appendAudio(audio: Buffer): void {
    this.#inputBytes += audio.length;
    this.#inputBytesSinceCommit += audio.length;
    const detection = turnDetectionOf(this.#config);
    if (!detection) return;
    for (const change of this.#vad.push(audio)) {
      if (change.kind === 'speech_started') {
        this.#speechItemId = openaiId('item');
        this.send({ type: 'input_audio_buffer.speech_started', event_id: openaiId('event'), audio_start_ms: change.audioStartMs, item_id: this.#speechItemId });
        if (detection.interruptResponse) this.#active?.cancel('turn_detected');
      } else {
        const itemId = this.#speechItemId ?? openaiId('item');
        this.send({ type: 'input_audio_buffer.speech_stopped', event_id: openaiId('event'), audio_end_ms: change.audioEndMs, item_id: itemId });
        this.#commit(itemId);
        if (!detection.createResponse) continue;
        if (!this.#active) this.#respond();
        else if (this.#active.ending) this.#respondWhenDone = true;
      }
    }
  }

  #commitManually(eventId: string | undefined): void {
    const bufferedMs = bytesToDuration(this.#inputBytesSinceCommit);
    if (bufferedMs < 100) {
      return this.#error({ code: 'input_audio_buffer_commit_empty', message: `Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, but buffer only has ${bufferedMs.toFixed(2)}ms of audio.` }, eventId);
    }
    this.#vad.reset();
    this.#commit(this.#speechItemId ?? openaiId('item'));
  }

  /**
   * Turns the buffered caller audio into a user message item at once and, if the session
   * asked for it, starts its transcription, which reports later.
   */
  #commit(itemId: string): void {
    const seconds = bytesToDuration(this.#inputBytesSinceCommit) / 1000;
    this.#inputBytesSinceCommit = 0;
    this.#speechItemId = undefined;
    const turn = userAudioTurn({ itemId, previousItemId: this.#conversation.lastItemId });
    this.#conversation.addUserAudio(itemId, turn.item, seconds * 1000);
    for (const event of turn.events) this.send(event);
    if (!transcribesInput(this.#config)) return;
    const transcript = this.#script.nextCallerTranscript();
    this.#transcription.start({ itemId, transcript, seconds }, () => this.#conversation.update(itemId, transcribedUserItem(turn.item, transcript)));
  }

  /** Starts the next scripted response (or the failure `failNextResponse` asked for). `metadata` is the client's, echoed. */
  #respond(metadata?: RealtimeResponse['metadata'], instructions?: string): void {
    const stream = new StreamedResponse({
      inputTokens: this.#conversation.inputTokens(instructions ?? this.#config.instructions ?? ''),
      pace: this.#pace,
      metadata,
      timing: this.#responses.timing,
      model: this.model,
      conversationId: this.#conversation.id,
      voice: voiceOf(this.#config),
      reply: this.#responses.nextReply(this.#script),
      send: (event) => this.send(event),
      addItem: (itemId, item, audio) => {
        const previousItemId = this.#conversation.lastItemId;
        this.#conversation.add(itemId, item, audio);
        return previousItemId;
      },
      updateItem: (itemId, item) => this.#conversation.update(itemId, item),
      onDone: () => {
        if (this.#active === stream) this.#active = undefined;
        if (!this.#respondWhenDone) return;
        this.#respondWhenDone = false;
        this.#respond();
      },
    });
    this.#active = stream;
    stream.start();
  }

  #error(error: Omit<RealtimeError, 'type'>, clientEventId?: string): void {
    this.send({ type: 'error', event_id: openaiId('event'), error: { type: 'invalid_request_error', param: null, event_id: clientEventId ?? null, ...error } });
  }
}
