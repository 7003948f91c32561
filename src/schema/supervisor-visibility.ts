import type { CallEvent } from '../core/events.ts';
import type { GraphQLContext } from './context.ts';

/*
 * What a viewer key may not see of a call's events (security review F15): a supervisor's
 * whisper text (it can carry anything the supervisor typed: a caller's details, internal
 * prices) and which API key acted. A viewer still sees that an action happened, which one,
 * and whether it worked. The same rule holds for the live `callEvents`/`callUpdated` and
 * for the stored `Call.timeline`.
 */

/** Whether the request's key may see supervisors' actions in full (supervisor or admin). */
export function seesSupervisorDetail(ctx: GraphQLContext): boolean {
  return ctx.auth?.kind === 'business' && (ctx.auth.role === 'supervisor' || ctx.auth.role === 'admin');
}

/** `event` as the request's key may see it: a supervisor action without its whisper text and key id for viewers. */
export function visibleEvent<T extends { type: string }>(ctx: GraphQLContext, event: T): T {
  if (event.type !== 'supervisor.action' || seesSupervisorDetail(ctx)) return event;
  const action = event as unknown as Extract<CallEvent, { type: 'supervisor.action' }>;
  return { ...action, detail: action.action === 'whisper' ? null : action.detail, apiKeyId: null } as unknown as T;
}
