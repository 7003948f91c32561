import { randomUUID } from 'node:crypto';
import { describeError } from '../core/errors.ts';
import type { Services } from '../core/services.ts';
import { beatIntervalMs } from '../entities/instance-heartbeat.entity.ts';
import { sql } from '../entities/sql.ts';

export interface InstanceHeartbeat {
  /** Stops beating and deletes the instance's row (a clean shutdown leaves nothing to sweep). */
  stop: () => Promise<void>;
}

/**
 * The API instance's heartbeat: its row in `instance_heartbeats`, upserted by a timer with
 * the ids of the calls it holds (`heldCalls`, read from memory) — one statement every few
 * seconds for the instance, none on any call's path. A beat that fails (Postgres down) is
 * logged and the next one tries again; the sweep waits LOST_CALL_AFTER_SEC for a beat, so
 * an outage shorter than that closes no call.
 */
export function startInstanceHeartbeat(services: Services, heldCalls: () => string[]): InstanceHeartbeat {
  const id = randomUUID();
  const startedAt = new Date();
  let failing = false;
  let beating: Promise<void> = Promise.resolve();
  const beat = async () => {
    const beatAt = new Date();
    const callIds = heldCalls();
    try {
      await sql(services.orm.em.fork())
        .insertInto('InstanceHeartbeat')
        .values({ id, startedAt, beatAt, callIds })
        .onConflict((oc) => oc.column('id').doUpdateSet({ beatAt, callIds }))
        .execute();
      if (failing) services.logger.info({ instance: id }, 'instance heartbeat written again');
      failing = false;
    } catch (error) {
      if (!failing) services.logger.warn({ instance: id, err: describeError(error) }, 'cannot write the instance heartbeat: retrying');
      failing = true;
    }
  };
  beating = beat();
  const timer = setInterval(() => {
    beating = beating.then(beat);
  }, beatIntervalMs(services.config.lostCallAfterSec));
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await beating;
      await sql(services.orm.em.fork())
        .deleteFrom('InstanceHeartbeat')
        .where('id', '=', id)
        .execute()
        .catch((error: unknown) => services.logger.warn({ instance: id, err: describeError(error) }, 'cannot delete the instance heartbeat'));
    },
  };
}
