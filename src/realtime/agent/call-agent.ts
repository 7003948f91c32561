import type { ConversationItemCreateEvent } from 'openai/resources/realtime/realtime';
import type { ServerEventOf } from '../session/openai-realtime.server-events.ts';
import type { AgentEvent } from '../../core/events.ts';
import { describeError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { keyPressNote, repromptDirective, shutdownGoodbyeDirective, silenceGoodbyeDirective, timeLimitGoodbyeDirective } from './agent-lines.ts';
import { transferKey } from '../twilio-line/key-press.ts';
import type { CallContext } from '../call-context.ts';
import type { CallControl } from '../twilio-line/call-control.ts';
import type { ResponseRequest } from './response-queue.ts';
import type { Ending } from '../session/call-ending.ts';
import { SilenceWatchdog } from './silence-watchdog.ts';
import { CallTools, type CallToolsDeps } from './tools/call-tools.ts';

/** What the agent needs from the call session that hosts it. */
export interface CallAgentHost {
  context: CallContext;
  /** Adds an item to the OpenAI session's conversation. */
  send(event: ConversationItemCreateEvent): void;
  /** Asks the model for a response, through the call's ResponseQueue: false when it was dropped. */
  respond(request: ResponseRequest): boolean;
  /** Publishes on the bus and records in the call's timeline. */
  record(event: AgentEvent): void;
  /** Resolves when the agent audio sent so far has played to the caller. */
  playedOut(): Promise<void>;
  /**
   * Ends the phone call through Twilio (`act`: the REST call, resolving to how the call
   * ended) and then the session, with `intended` as the reason should Twilio's stream end
   * before the REST answer (see CallSession.endThrough).
   */
  endThrough(intended: string, act: () => Promise<Ending | null>): Promise<void>;
  /** Something the agent did threw: the session ends the call cleanly. */
  fail(error: unknown): void;
}

export interface CallAgentDeps {
  logger: Logger;
  /** Acting on the phone call; undefined without Twilio credentials (then the session just ends). */
  callControl: CallControl | undefined;
  /** The booking write, for this call's business, lead and call. */
  book: (context: CallContext, slot: Parameters<CallToolsDeps['book']>[0]) => ReturnType<CallToolsDeps['book']>;
  /** Told each tool run's duration (tool_run_seconds). */
  toolTimed?: CallToolsDeps['timed'];
  now?: () => Date;
}

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
  #maxDuration: NodeJS.Timeout | undefined;
  /** A goodbye was asked for: the call ends once it has played. */
  #closing = false;
  #stopped = false;

  constructor(host: CallAgentHost, deps: CallAgentDeps) {
    this.#host = host;
    this.#deps = deps;
    const { settings } = host.context;
    this.tools = new CallTools({ context: host.context, now: deps.now ?? (() => new Date()), book: (slot) => deps.book(host.context, slot), timed: deps.toolTimed });
    this.#watchdog = new SilenceWatchdog({
      timeoutMs: settings.silenceTimeoutSec * 1000,
      reprompts: settings.silenceReprompts,
      onReprompt: (attempt) => this.#guarded(() => this.#reprompt(attempt)),
      onGiveUp: () => this.#guarded(() => this.#close('silence', silenceGoodbyeDirective(host.context))),
    });
  }

  /** The call is live: start the maximum-duration clock. */
  start(): void {
    const limitMs = this.#host.context.settings.maxCallDurationSec * 1000;
    if (limitMs > 0) {
      this.#maxDuration = setTimeout(
        () =>
          this.#guarded(() => this.#close('max-duration', timeLimitGoodbyeDirective(this.#host.context))),
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
    this.#host.send(keyPressNote(digit));
    this.#host.respond({ reason: 'key-press' });
  }

  /**
   * A response is over (`response.done`). The function calls of a COMPLETED response run —
   * all of them, in order — never those of a cancelled, failed or incomplete one, whose
   * arguments may be cut short.
   */
  responseDone(response: ServerEventOf<'response.done'>['response']): void {
    if (this.#stopped || response.status !== 'completed') return;
    const calls = (response.output ?? []).filter((item): item is FunctionCall => item.type === 'function_call');
    if (calls.length > 0) this.#runTools(calls).catch((error: unknown) => this.#host.fail(error));
  }

  /**
   * This instance is shutting down and the drain is over: the caller is handed to the
   * business's transfer number when it has one, else the agent says a short goodbye and
   * hangs up (endReason `server shutting down`). A closing already under way (a goodbye,
   * a transfer) goes on as it was.
   */
  shutDown(): void {
    if (this.#stopped || this.#closing) return;
    if (this.#host.context.settings.transferNumber) {
      this.stop();
      this.#transfer(shutdownEndReason).catch((error: unknown) => this.#host.fail(error));
      return;
    }
    this.#close('shutdown', shutdownGoodbyeDirective(this.#host.context));
  }

  /** Runs what a timer fired; a throw ends the call through the host, never the process. */
  #guarded(action: () => void): void {
    try {
      action();
    } catch (error) {
      this.#host.fail(error);
    }
  }

  /**
   * Runs the model's function calls of one response and sends every output, then ONE
   * response for all of them — or, when one of them ends or transfers the call, acts on
   * it once what the agent said before has played.
   */
  async #runTools(calls: FunctionCall[]): Promise<void> {
    const at = () => new Date().toISOString();
    const callId = this.#host.context.callId;
    // The agent is busy (a booking may take a moment): silence now is not the caller's. The
    // watchdog counts again once the agent's next words have played.
    this.#watchdog.agentStarted();
    let closing: { effect: 'end-call' | 'transfer'; reason: string } | undefined;
    for (const call of calls) {
      const name = call.name ?? '';
      const args = call.arguments ?? '';
      this.#host.record({ type: 'tool.called', callId, toolCallId: call.call_id, name, arguments: args, at: at() });
      const outcome = await this.tools.run(name, args);
      if (this.#stopped) return;
      this.#host.record({ type: 'tool.result', callId, toolCallId: call.call_id, name, output: outcome.output, failed: outcome.failed, at: at() });
      if (name === 'save_lead_details' && !outcome.failed) this.#host.record({ type: 'lead.captured', callId, fields: { ...this.tools.lead }, at: at() });
      this.#host.send({ type: 'conversation.item.create', item: { type: 'function_call_output', call_id: call.call_id, output: JSON.stringify(outcome.output) } });
      if (outcome.effect !== 'continue') closing ??= { effect: outcome.effect, reason: reasonOf(args, name) };
    }
    if (!closing) {
      this.#host.respond({ reason: 'tool-results' });
      return;
    }
    // What the agent said before calling end_call / transfer_to_human (the audio of this
    // response came before the call) may still be playing: act once it has played.
    this.#closing = true;
    this.#watchdog.stop();
    clearTimeout(this.#maxDuration);
    this.#host.record({ type: 'call.closing', callId, reason: 'agent', at: at() });
    await this.#host.playedOut();
    if (this.#stopped) return;
    await (closing.effect === 'transfer' ? this.#transfer(closing.reason) : this.#hangUp(closing.reason));
  }

  #reprompt(attempt: number): void {
    if (this.#stopped || this.#closing) return;
    if (!this.#host.respond({ reason: 'reprompt', directive: repromptDirective(this.#host.context) })) return;
    this.#host.record({ type: 'watchdog.reprompt', callId: this.#host.context.callId, attempt, at: new Date().toISOString() });
  }

  /** Says a closing line, then hangs up once it has played. */
  #close(why: 'silence' | 'max-duration' | 'shutdown', directive: string): void {
    if (this.#stopped || this.#closing) return;
    this.#closing = true;
    this.#watchdog.stop();
    clearTimeout(this.#maxDuration);
    const reason = why === 'silence' ? 'caller silent' : why === 'max-duration' ? 'maximum call duration' : shutdownEndReason;
    this.#host.record({ type: 'call.closing', callId: this.#host.context.callId, reason: why, at: new Date().toISOString() });
    const asked = this.#host.respond({
      reason: 'goodbye',
      directive,
      done: () => {
        if (this.#stopped) return;
        this.#host
          .playedOut()
          .then(() => this.#hangUp(reason))
          .catch((error: unknown) => this.#host.fail(error));
      },
    });
    // A goodbye the queue dropped would never call `done`: a shutdown hangs up without it.
    if (!asked && why === 'shutdown') this.#hangUp(reason).catch((error: unknown) => this.#host.fail(error));
  }

  /** Hangs up through Twilio; the call ends with `reason` even if Twilio could not be told (the session closes the stream). */
  #hangUp(reason: string): Promise<void> {
    const { callSid } = this.#host.context;
    return this.#host.endThrough(reason, async () => {
      try {
        await this.#deps.callControl?.hangUp(callSid);
      } catch (error) {
        this.#deps.logger.error({ callSid, err: describeError(error) }, 'cannot hang up the call through Twilio');
      }
      return { reason };
    });
  }

  /** Hands the call to the business's transfer number; the `call.transfer` event is recorded before the call is written. */
  #transfer(reason: string): Promise<void> {
    const { callSid, callId, settings } = this.#host.context;
    const to = settings.transferNumber;
    return this.#host.endThrough('transferred', async () => {
      let error: string | null = null;
      try {
        if (!to || !this.#deps.callControl) throw new Error(to ? 'Twilio is not configured' : 'no transfer number');
        await this.#deps.callControl.transfer(callSid, to);
      } catch (failure) {
        error = describeError(failure);
        this.#deps.logger.error({ callSid, err: error }, 'cannot transfer the call');
      }
      this.#host.record({ type: 'call.transfer', callId, to, reason, ok: error === null, error, at: new Date().toISOString() });
      return error === null ? { reason: 'transferred' } : { reason: 'transfer failed', failed: true };
    });
  }
}

/** Why a call ended when the instance holding it shut down (Call.endReason). */
export const shutdownEndReason = 'server shutting down';

/** A function call of a completed response, as parsed at the boundary. */
type FunctionCall = Extract<NonNullable<ServerEventOf<'response.done'>['response']['output']>[number], { type: 'function_call' }>;

/** The `reason` argument of end_call / transfer_to_human, else the tool's name. */
function reasonOf(args: string, name: string): string {
  try {
    return String((JSON.parse(args) as { reason?: unknown }).reason ?? name);
  } catch {
    return name;
  }
}
