import type { SupervisorCommand, SupervisorCommandResult } from '../core/events.ts';
import { describeError } from '../core/errors.ts';
import type { CallContext } from './call-context.ts';
import type { CallControl } from './call-control.ts';

/** What a supervisor's command needs from the call session holding the call. */
export interface SupervisedCall {
  context: CallContext;
  live: () => boolean;
  /** Gives the agent an instruction the caller does not hear. */
  whisper: (text: string) => void;
  control: CallControl | undefined;
  /** Ends the session once the phone call has been handed over or hung up. */
  end: (reason: string) => void;
}

/** Carries out a supervisor's command on a live call; never throws. */
export async function supervise(command: SupervisorCommand, call: SupervisedCall): Promise<SupervisorCommandResult> {
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
    }
  } catch (error) {
    return { acted: false, error: describeError(error) };
  }
}
