import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

/**
 * One API instance's heartbeat: upserted every few seconds by a timer off the call path,
 * with the ids of the calls the instance holds (its live sessions), and deleted on a clean
 * shutdown. A row whose `beatAt` has grown old belongs to a process that died: the lost
 * calls sweep (workers/lost-calls.ts) closes its calls and deletes it.
 */
export const InstanceHeartbeat = defineEntity({
  name: 'InstanceHeartbeat',
  tableName: 'instance_heartbeats',
  properties: {
    id: p.uuid().primary(),
    startedAt: p.datetime(),
    beatAt: p.datetime(),
    /** The ids of the calls the instance holds. */
    callIds: p.array().default([]),
  },
});
export type InstanceHeartbeat = InferEntity<typeof InstanceHeartbeat>;

/**
 * How often an instance beats: a third of LOST_CALL_AFTER_SEC, at most every 5 s. The
 * instances beating (realtime/instance-heartbeat.ts) and the sweep judging the rows
 * (workers/lost-calls.ts) both read it, so it lives with the row they share.
 */
export function beatIntervalMs(lostCallAfterSec: number): number {
  return Math.min(5_000, (lostCallAfterSec * 1000) / 3);
}
