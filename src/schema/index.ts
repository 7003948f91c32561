import { lexicographicSortSchema, printSchema } from 'graphql';
import { builder } from './builder.ts';
import './scalars.ts';
import './errors.ts';
import './health.ts';
import './business.ts';
import './business-settings.ts';
import './api-key.ts';
import './lead.ts';
import './lead-privacy.ts';
import './call.ts';
import './call-stats.ts';
import './appointment.ts';
import './outbound-call-job.ts';
import './campaign.ts';
import './webhook-delivery.ts';
import './subscriptions.ts';
import './supervisor.ts';

/** The executable schema. Importing a type's file is what adds it. */
export const schema = builder.toSchema();

/** The SDL committed as schema.graphql, sorted so diffs show only real changes. */
export function printSortedSchema(): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
