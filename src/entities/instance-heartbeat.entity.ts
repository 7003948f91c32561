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
