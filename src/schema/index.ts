import { lexicographicSortSchema, printSchema } from 'graphql';
import { auditOperations } from './audited-operations.ts';
import { builder } from './builder.ts';
import './scalars.ts';
import './errors.ts';
import './health.ts';
import './node.ts';
import './business.ts';
import './viewer-operations.ts';
import './business-settings.ts';
import './api-key.ts';
import './lead.ts';
import './lead-privacy.ts';
import './call.ts';
import './call-event-types.ts';
import './call-stats.ts';
import './appointment.ts';
import './outbound-call-job.ts';
import './campaign.ts';
import './webhook-delivery.ts';
import './subscriptions.ts';
import './supervisor.ts';
import './audit-log.ts';

/**
 * The executable schema. Importing a type's file is what adds it; every mutation (and the
 * listen-in) is then audited (audited-operations.ts).
 */
export const schema = auditOperations(builder.toSchema());

/** The SDL committed as schema.graphql, sorted so diffs show only real changes. */
export function printSortedSchema(): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
