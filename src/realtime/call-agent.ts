import type { ResponseCreateEvent, ConversationItemCreateEvent } from 'openai/resources/realtime/realtime';
import type { AgentEvent } from '../core/events.ts';
import { describeError } from '../core/errors.ts';
import { languageName } from '../core/language.ts';
import type { Logger } from '../core/logger.ts';
import type { CallContext } from './call-context.ts';
import type { CallControl } from './call-control.ts';
import { keyPressedItem, transferKey } from './key-press.ts';
import { SilenceWatchdog } from './silence-watchdog.ts';
import { CallTools, type CallToolsDeps } from './tools/call-tools.ts';

/** What the agent needs from the call session that hosts it. */
export interface CallAgentHost {
  context: CallContext;
  /** Sends a client event to the OpenAI session. */
  send(event: ResponseCreateEvent | ConversationItemCreateEvent): void;
  /** Publishes on the bus and records in the call's timeline. */
  record(event: AgentEvent): void;
  /** Resolves when the agent audio sent so far has played to the caller. */
  playedOut(): Promise<void>;
  /** Ends the session (the phone call is already being ended or handed over). */
  end(reason: string, failed?: boolean): void;
  /** Something the agent did threw: the session ends the call cleanly. */
  fail(error: unknown): void;
}

export interface CallAgentDeps {
  logger: Logger;
  /** Acting on the phone call; undefined without Twilio credentials (then the session just ends). */
  callControl: CallControl | undefined;
  /** The booking write, for this call's business, lead and call. */
  book: (context: CallContext, slot: Parameters<CallToolsDeps['book']>[0]) => ReturnType<CallToolsDeps['book']>;
  now?: () => Date;
}

/** A closing line the agent was asked to say; the call is hung up once it has played. */
type Closing = { reason: string };

/**
 * The agent's behaviour on one call beyond relaying audio: it answers tool calls, watches
 * for silence, enforces the maximum duration, and ends or hands over the call once what the
 * agent said last has played. Nothing here touches the database except a booking (the
 * tools' `book`), which runs off the audio path.
 */
export class CallAgent {
  readonly tools: CallTools;
  readonly #host: CallAgentHost;
  readonly #deps: CallAgentDeps;
  readonly #watchdog: SilenceWatchdog;
  readonly #language: string;
  #maxDuration: NodeJS.Timeout | undefined;
  /** What to do once the response in progress is done and has played. */
  #closing: Closing | undefined;
  #stopped = false;

  constructor(host: CallAgentHost, deps: CallAgentDeps) {
    this.#host = host;
    this.#deps = deps;
    const { settings } = host.context;
    this.#language = languageName(settings.language);
    this.tools = new CallTools({ context: host.context, now: deps.now ?? (() => new Date()), book: (slot) => deps.book(host.context, slot) });
    this.#watchdog = new SilenceWatchdog({
      timeoutMs: settings.silenceTimeoutSec * 1000,
      reprompts: settings.silenceReprompts,
      onReprompt: (attempt) => this.#guarded(() => this.#reprompt(attempt)),
      onGiveUp: () => this.#guarded(() => this.#close('silence', `The caller has stayed silent. Say a short, polite goodbye in ${this.#language}, and nothing else.`)),
    });
  }

  /** The call is live: start the maximum-duration clock. */
  start(): void {
    const limitMs = this.#host.context.settings.maxCallDurationSec * 1000;
    if (limitMs > 0) {
      this.#maxDuration = setTimeout(
        () =>
          this.#guarded(() =>
            this.#close('max-duration', `The call has reached its time limit. Thank the caller, say the business will follow up if needed, and say goodbye in ${this.#language}. Keep it to one or two sentences.`),
          ),
        limitMs,
      );
    }
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#maxDuration);
    this.#watchdog.stop();
  }

  callerStarted(): void {
    this.#watchdog.callerStarted();
  }

  callerStopped(): void {
    this.#watchdog.callerStopped();
  }

  agentStarted(): void {
    this.#watchdog.agentStarted();
  }

  /** The agent's audio has played out. */
  agentStopped(): void {
    this.#watchdog.agentStopped();
  }

  /**
   * The caller pressed a key (DTMF). It is recorded, and the agent is told and answers —
   * except `0` when the business has a transfer number: the caller asked for a person, so
   * the call is transferred at once (not after the agent's words have played: they pressed
   * 0 to stop listening to it) and the agent does nothing more. During a closing line a key
   * changes nothing: the call is ending.
   */
  keyPressed(digit: string): void {
    if (this.#stopped) return;
    const { callId, settings } = this.#host.context;
    this.#host.record({ type: 'key.pressed', callId, digit, at: new Date().toISOString() });
    if (digit === transferKey && settings.transferNumber) {
      // No reprompt, goodbye, tool result or second 0 may race the hand-over.
      this.stop();
      this.#transfer(`the caller pressed ${digit}`).catch((error: unknown) => this.#host.fail(error));
      return;
    }
    if (this.#closing) return;
    this.#host.send(keyPressedItem(digit));
    this.#host.send({ type: 'response.create' });
  }

  /** A response finished (`response.done`): a pending closing line has been sent; hang up once it has played. */
  responseDone(): void {
    const closing = this.#closing;
    if (!closing || this.#stopped) return;
    this.#closing = undefined;
    this.#host
      .playedOut()
      .then(() => this.#hangUp(closing.reason))
      .catch((error: unknown) => this.#host.fail(error));
  }

  /** Runs what a timer fired; a throw ends the call through the host, never the process. */
  #guarded(action: () => void): void {
    try {
      action();
    } catch (error) {
      this.#host.fail(error);
    }
  }

  /** The model called a tool (`response.function_call_arguments.done`). */
  async toolCalled(toolCallId: string, name: string, args: string): Promise<void> {
    const at = () => new Date().toISOString();
    const callId = this.#host.context.callId;
    this.#host.record({ type: 'tool.called', callId, toolCallId, name, arguments: args, at: at() });
    // The agent is busy (a booking may take a moment): silence now is not the caller's. The
    // watchdog counts again once the agent's next words have played.
    this.#watchdog.agentStarted();
    const outcome = await this.tools.run(name, args);
    if (this.#stopped) return;
    this.#host.record({ type: 'tool.result', callId, toolCallId, name, output: outcome.output, failed: outcome.failed, at: at() });
    if (name === 'save_lead_details' && !outcome.failed) this.#host.record({ type: 'lead.captured', callId, fields: { ...this.tools.lead }, at: at() });
    this.#host.send({ type: 'conversation.item.create', item: { type: 'function_call_output', call_id: toolCallId, output: JSON.stringify(outcome.output) } });
    if (outcome.effect === 'continue') return this.#host.send({ type: 'response.create' });
    const reason = (() => {
      try {
        return String((JSON.parse(args) as { reason?: unknown }).reason ?? name);
      } catch {
        return name;
      }
    })();
    // What the agent said before calling end_call / transfer_to_human (the audio of this
    // response came before the call) may still be playing: act once it has played.
    this.#watchdog.stop();
    clearTimeout(this.#maxDuration);
    this.#host.record({ type: 'call.closing', callId, reason: 'agent', at: at() });
    await this.#host.playedOut();
    if (this.#stopped) return;
    await (outcome.effect === 'transfer' ? this.#transfer(reason) : this.#hangUp(reason));
  }

  #reprompt(attempt: number): void {
    if (this.#stopped || this.#closing) return;
    this.#host.record({ type: 'watchdog.reprompt', callId: this.#host.context.callId, attempt, at: new Date().toISOString() });
    this.#host.send({
      type: 'response.create',
      response: { instructions: `The caller has not said anything for a while. Ask briefly, in ${this.#language}, whether they are still on the line.` },
    });
  }

  /** Says a closing line, then hangs up once it has played. */
  #close(why: 'silence' | 'max-duration', instructions: string): void {
    if (this.#stopped || this.#closing) return;
    this.#watchdog.stop();
    clearTimeout(this.#maxDuration);
    this.#closing = { reason: why === 'silence' ? 'caller silent' : 'maximum call duration' };
    this.#host.record({ type: 'call.closing', callId: this.#host.context.callId, reason: why, at: new Date().toISOString() });
    this.#host.send({ type: 'response.create', response: { instructions } });
  }

  async #hangUp(reason: string): Promise<void> {
    const { callSid } = this.#host.context;
    try {
      await this.#deps.callControl?.hangUp(callSid);
    } catch (error) {
      this.#deps.logger.error({ callSid, err: describeError(error) }, 'cannot hang up the call through Twilio');
    }
    this.#host.end(reason);
  }

  async #transfer(reason: string): Promise<void> {
    const { callSid, callId, settings } = this.#host.context;
    const to = settings.transferNumber;
    let error: string | null = null;
    try {
      if (!to || !this.#deps.callControl) throw new Error(to ? 'Twilio is not configured' : 'no transfer number');
      await this.#deps.callControl.transfer(callSid, to);
    } catch (failure) {
      error = describeError(failure);
      this.#deps.logger.error({ callSid, err: error }, 'cannot transfer the call');
    }
    this.#host.record({ type: 'call.transfer', callId, to, reason, ok: error === null, error, at: new Date().toISOString() });
    this.#host.end(error === null ? 'transferred' : 'transfer failed', error !== null);
  }
}
