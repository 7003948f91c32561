import type { EntityManager } from '@mikro-orm/postgresql';
import type { JobName } from '../../src/core/jobs.ts';
import { eventually } from './calls.ts';

/** One queue's jobs whose payload `field` is one of `values`. */
export interface JobSelector {
  name: JobName;
  field: string;
  values: string[];
}

/**
 * Waits until none of the selected pg-boss jobs that are due is queued, retrying or running,
 * then counts them all (deferred ones too) by queue name. The deterministic way to check that
 * something did not happen (a retry, a second pipeline, a next dial): every job that could have
 * done it by now has had its turn, and one scheduled for later still shows in the count.
 */
export async function settledJobs(em: EntityManager, ...selectors: JobSelector[]): Promise<Record<string, number>> {
  const read = async () => {
    const rows: { name: string; state: string; due: boolean }[] = [];
    for (const { name, field, values } of selectors) {
      rows.push(
        ...(await em
          .fork()
          .execute<{ name: string; state: string; due: boolean }[]>(`select name, state, start_after <= now() as due from pgboss.job where name = ? and data->>? = any(string_to_array(?, ','))`, [name, field, values.join(',')])),
      );
    }
    return rows;
  };
  const rows = await eventually(read, (jobs) => jobs.every((job) => !job.due || !['created', 'retry', 'active'].includes(job.state)), 'the jobs to settle');
  const counts: Record<string, number> = {};
  for (const row of rows) counts[row.name] = (counts[row.name] ?? 0) + 1;
  return counts;
}
