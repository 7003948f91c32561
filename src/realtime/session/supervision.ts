import type { CallCommand, EventBus, SupervisorCommand, SupervisorCommandResult } from '../../core/events.ts';
import { describeError } from '../../core/errors.ts';
import type { CallContext } from '../call-context.ts';
import type { CallControl } from '../twilio-line/call-control.ts';

/** What supervisors' commands need from the call session holding the call. */
export interface SupervisedCall {
  context: CallContext;
  live: () => boolean;
  /** Gives the agent an instruction the caller does not hear. */
  whisper: (text: string) => void;
  control: CallControl | undefined;
  /** Ends the session once the phone call has been handed over or hung up. */
  end: (reason: string) => void;
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
        const command = next.value;
        const result = await supervise(command, call);
        bus.publish('call:command-results', command.requestId, result);
        // The machine's verdict shows as the call's end reason; the timeline records people's actions.
        if (command.action !== 'answering-machine') call.recorded(command, result);
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

/** Carries out a supervisor's command, or the answering-machine verdict, on a live call; never throws. */
export async function supervise(command: CallCommand, call: SupervisedCall): Promise<SupervisorCommandResult> {
  if (!call.live()) return { acted: false, error: 'the call is not live' };
  try {
    switch (command.action) {
      case 'whisper':
        call.whisper(command.text);
        return { acted: true, error: null };
      case 'transfer':
        if (!call.control) return { acted: false, error: 'Twilio is not configured' };
        await call.control.transfer(call.context.callSid, command.to);
        call.end('transferred by a supervisor');
        return { acted: true, error: null };
      case 'hangup':
        if (!call.control) return { acted: false, error: 'Twilio is not configured' };
        await call.control.hangUp(call.context.callSid);
        call.end('hung up by a supervisor');
        return { acted: true, error: null };
      case 'answering-machine':
        if (!call.control) return { acted: false, error: 'Twilio is not configured' };
        if (command.voicemail) {
          await call.control.sayAndHangUp(call.context.callSid, command.voicemail.text, command.voicemail.language);
          call.end('voicemail left');
        } else {
          await call.control.hangUp(call.context.callSid);
          call.end('answering machine');
        }
        return { acted: true, error: null };
    }
  } catch (error) {
    return { acted: false, error: describeError(error) };
  }
}
