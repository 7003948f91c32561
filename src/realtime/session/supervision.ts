import type { CallCommand, EventBus, SupervisorCommand, SupervisorCommandResult } from '../../core/events.ts';
import { dialRefusal } from '../../core/dialable-numbers.ts';
import { describeError } from '../../core/errors.ts';
import type { CallContext } from '../call-context.ts';
import type { CallControl } from '../twilio-line/call-control.ts';
import type { Ending } from './call-ending.ts';

/** What supervisors' commands need from the call session holding the call. */
export interface SupervisedCall {
  context: CallContext;
  live: () => boolean;
  /** Gives the agent an instruction the caller does not hear. */
  whisper: (text: string) => void;
  control: CallControl | undefined;
  /**
   * Ends the phone call through Twilio (`act`, null: it did not end) and then the session,
   * with `intended` as the reason should Twilio's stream end first (CallSession.endThrough).
   */
  endThrough: (intended: string, act: () => Promise<Ending | null>) => Promise<void>;
  /** Records what was done (timeline and bus). */
  recorded: (command: SupervisorCommand, result: SupervisorCommandResult) => void;
}

/**
 * A live call's link to its supervisors, wherever they are: it carries out the commands
 * sent for the call on the bus (answering each by request id), and counts the listen-in
 * subscribers so the call publishes its audio only while someone listens. `stop()` when
 * the call ends.
 */
export class CallSupervision {
  readonly #listeners = new Set<string>();
  readonly #iterators: AsyncIterator<unknown>[] = [];

  constructor(bus: EventBus, call: SupervisedCall) {
    const commands = bus.subscribe('call:commands', call.context.callId)[Symbol.asyncIterator]();
    const listeners = bus.subscribe('call:listeners', call.context.callId)[Symbol.asyncIterator]();
    this.#iterators.push(commands, listeners);
    void (async () => {
      for (let next = await commands.next(); !next.done; next = await commands.next()) {
        const result = await supervise(next.value, call);
        bus.publish('call:command-results', next.value.requestId, result);
      }
    })();
    void (async () => {
      for (let next = await listeners.next(); !next.done; next = await listeners.next()) {
        if (next.value.listening) this.#listeners.add(next.value.listenerId);
        else this.#listeners.delete(next.value.listenerId);
      }
    })();
  }

  /** Someone is listening in (on any instance). */
  get listening(): boolean {
    return this.#listeners.size > 0;
  }

  stop(): void {
    for (const iterator of this.#iterators) void iterator.return?.();
  }
}

/**
 * Carries out a supervisor's command, or the answering-machine verdict, on a live call and
 * records it (for a command that ends the call, before the call is written); never throws.
 */
export async function supervise(command: CallCommand, call: SupervisedCall): Promise<SupervisorCommandResult> {
  if (!call.live()) return recorded(command, call, { acted: false, error: 'the call is not live' });
  try {
    switch (command.action) {
      case 'whisper':
        call.whisper(command.text);
        return recorded(command, call, { acted: true, error: null });
      case 'transfer': {
        // Checked here, against the context the call loaded: no statement is added to the call.
        const refusal = dialRefusal(command.to, call.context.settings.dialingCountries);
        if (refusal) return recorded(command, call, { acted: false, error: `refused to dial: the number ${refusal}`, refused: refusal });
        const control = call.control;
        if (!control) return recorded(command, call, { acted: false, error: 'Twilio is not configured' });
        return await endThroughTwilio(call, command, 'transferred by a supervisor', () => control.transfer(call.context.callSid, command.to));
      }
      case 'hangup': {
        const control = call.control;
        if (!control) return recorded(command, call, { acted: false, error: 'Twilio is not configured' });
        return await endThroughTwilio(call, command, 'hung up by a supervisor', () => control.hangUp(call.context.callSid));
      }
      case 'answering-machine': {
        const control = call.control;
        if (!control) return recorded(command, call, { acted: false, error: 'Twilio is not configured' });
        const { voicemail } = command;
        if (voicemail) {
          return await endThroughTwilio(call, command, 'voicemail left', () => control.sayAndHangUp(call.context.callSid, voicemail.text, voicemail.language));
        }
        return await endThroughTwilio(call, command, 'answering machine', () => control.hangUp(call.context.callSid));
      }
    }
  } catch (error) {
    return recorded(command, call, { acted: false, error: describeError(error) });
  }
}

function recorded(command: CallCommand, call: SupervisedCall, result: SupervisorCommandResult): SupervisorCommandResult {
  // The machine's verdict shows as the call's end reason; the timeline records people's actions.
  if (command.action !== 'answering-machine') call.recorded(command, result);
  return result;
}

/**
 * A command that ends the call through Twilio: the call ends with `reason` once Twilio
 * took the update (even if its stream stops first), with the command in its timeline; if
 * Twilio refused it, the call goes on and the supervisor hears why. Resolves with the
 * result as soon as Twilio has answered, not once the call is written.
 */
function endThroughTwilio(call: SupervisedCall, command: CallCommand, reason: string, update: () => Promise<void>): Promise<SupervisorCommandResult> {
  return new Promise((resolve) => {
    let ran = false;
    void call
      .endThrough(reason, async () => {
        ran = true;
        let result: SupervisorCommandResult = { acted: true, error: null };
        try {
          await update();
        } catch (error) {
          result = { acted: false, error: describeError(error) };
        }
        resolve(recorded(command, call, result));
        return result.acted ? { reason } : null;
      })
      // The call ended before the command could act: `endThrough` ran nothing.
      .then(() => {
        if (!ran) resolve(recorded(command, call, { acted: false, error: 'the call is not live' }));
      });
  });
}
