import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { dialRefusal } from '../core/dialable-numbers.ts';
import type { SupervisorCommand, SupervisorCommandResult } from '../core/events.ts';
import { isLiveCall } from '../entities/call-record.ts';
import { builder } from './builder.ts';
import { ownRow, type GraphQLContext } from './context.ts';
import { FieldValidationError, NotFoundError } from './errors.ts';
import { phoneNumber } from './inputs.ts';

/** How long a supervisor action waits for the instance holding the call to answer. */
const answerTimeoutMs = 3000;

const SupervisorActionResultRef = builder.objectRef<SupervisorCommandResult>('SupervisorActionResult').implement({
  description: 'Whether the Callwatch instance holding the call carried out the action.',
  fields: (t) => ({
    acted: t.exposeBoolean('acted', { description: 'True when the action was carried out; false with error when not.' }),
    error: t.exposeString('error', { nullable: true, description: 'Why it did not (the call is not live, Twilio refused, …).' }),
  }),
});


builder.mutationFields((t) => ({
  whisperToAgent: t.field({
    type: SupervisorActionResultRef,
    authScopes: { supervisor: true },
    description: 'Gives the agent of a live call an instruction; the caller does not hear it.',
    errors: { types: [FieldValidationError, NotFoundError], directResult: true },
    args: { callId: t.arg.id({ required: true, description: 'The live call.', validate: z.uuid('is not a call id') }), text: t.arg.string({ required: true, description: 'The instruction, 1–1000 characters.', validate: z.string().trim().min(1, 'must not be empty').max(1000, 'must be at most 1000 characters') }) },
    resolve: (_root, args, ctx) => command(ctx, String(args.callId), { action: 'whisper', text: args.text.trim() }),
  }),
  transferCall: t.field({
    type: SupervisorActionResultRef,
    authScopes: { supervisor: true },
    description:
      'Transfers a live call to a phone number (Twilio <Dial>); the agent leaves the call. A number the business may not dial (premium rate, a country not in allowedCountries) is a ValidationError on `to`.',
    errors: { types: [FieldValidationError, NotFoundError], directResult: true },
    args: { callId: t.arg.id({ required: true, description: 'The live call.', validate: z.uuid('is not a call id') }), to: t.arg.string({ required: true, description: 'The number to transfer to, in any common format.', validate: phoneNumber }) },
    resolve: async (_root, args, ctx) => {
      // Types refused everywhere (premium rate, …) are refused here; the business's countries
      // are checked by the instance holding the call, against the context it loaded.
      const refusal = dialRefusal(args.to, null);
      if (refusal) throw new FieldValidationError([{ path: ['to'], message: refusal }]);
      const result = await command(ctx, String(args.callId), { action: 'transfer', to: args.to });
      if (result.refused) throw new FieldValidationError([{ path: ['to'], message: result.refused }]);
      return result;
    },
  }),
  hangUpCall: t.field({
    type: SupervisorActionResultRef,
    authScopes: { supervisor: true },
    description: 'Ends a live call now.',
    errors: { types: [FieldValidationError, NotFoundError], directResult: true },
    args: { callId: t.arg.id({ required: true, description: 'The live call.', validate: z.uuid('is not a call id') }) },
    resolve: (_root, args, ctx) => command(ctx, String(args.callId), { action: 'hangup' }),
  }),
}));

type CommandBody = SupervisorCommand extends infer C ? (C extends SupervisorCommand ? Omit<C, 'requestId' | 'apiKeyId'> : never) : never;

/**
 * Sends a command for one of the business's calls over the bus, to whichever instance holds
 * it, and waits for its answer. No answer in time: no live call is held anywhere (or the
 * answer was lost to a Redis outage that began meanwhile).
 */
async function command(ctx: GraphQLContext, id: string, body: CommandBody): Promise<SupervisorCommandResult> {
  const call = await ownRow(ctx, ctx.loaders.callById, id);
  if (!call) throw new NotFoundError('No call with that id.');
  if (!isLiveCall(call.status)) return { acted: false, error: `the call has ended (${call.status})` };
  // A command published now would be dropped: say why instead of waiting for no answer.
  if (!ctx.services.bus.available()) return { acted: false, error: 'the event bus (Redis) is unavailable, so the instance holding the call cannot be reached; try again shortly' };
  const requestId = randomUUID();
  const answers = ctx.services.bus.subscribe('call:command-results', requestId)[Symbol.asyncIterator]();
  let timer: NodeJS.Timeout | undefined;
  try {
    // The answer subscription is in place before the command goes out.
    const answer = answers.next();
    ctx.services.bus.publish('call:commands', call.id, { ...body, requestId, apiKeyId: ctx.auth?.kind === 'business' ? ctx.auth.apiKeyId : 'platform' } as SupervisorCommand);
    const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), answerTimeoutMs)));
    const result = await Promise.race([answer, timeout]);
    return result && !result.done ? result.value : { acted: false, error: 'the call is not live on any Callwatch instance' };
  } finally {
    clearTimeout(timer);
    await answers.return?.();
  }
}

