import { describeError } from '../core/errors.ts';
import type { Services } from '../core/services.ts';
import { sql } from '../entities/sql.ts';

/**
 * The longest a default drain lasts. A call longer than an hour is rare, and a deploy that
 * waits longer than that is stuck rather than careful; set SHUTDOWN_CALL_DRAIN_SEC for more.
 */
export const defaultCallDrainCapSec = 3600;

/** The drain when the businesses' settings cannot be read: the default maximum call duration. */
const unreadableCallDrainSec = 900;

/**
 * How long a shutdown lets live calls finish: SHUTDOWN_CALL_DRAIN_SEC when set, else the
 * longest maximum call duration of any business (capped at defaultCallDrainCapSec) — by then
 * every call has reached its own limit and ended. Read once, when shutdown begins; never on a
 * call's path.
 */
export async function callDrainSeconds(services: Pick<Services, 'config' | 'orm' | 'logger'>): Promise<number> {
  const configured = services.config.shutdownCallDrainSec;
  if (configured !== undefined) return configured;
  try {
    const row = await sql(services.orm.em.fork())
      .selectFrom('BusinessSettings')
      .select((eb) => eb.fn.max('maxCallDurationSec').as('longest'))
      .executeTakeFirst();
    const longest = Number(row?.longest ?? 0);
    return Math.min(defaultCallDrainCapSec, longest > 0 ? longest : unreadableCallDrainSec);
  } catch (error) {
    services.logger.error({ err: describeError(error), drainSec: unreadableCallDrainSec }, 'cannot read the longest maximum call duration: draining calls for the default');
    return unreadableCallDrainSec;
  }
}
