import { Migration20261121000000Initial } from './Migration20261121000000Initial.ts';
import { Migration20261122000000CallSearch } from './Migration20261122000000CallSearch.ts';
import { Migration20261123000000PostCallPipeline } from './Migration20261123000000PostCallPipeline.ts';
import { Migration20261124000000CallTimeline } from './Migration20261124000000CallTimeline.ts';
import { Migration20261125000000OutboundCalling } from './Migration20261125000000OutboundCalling.ts';
import { Migration20261203000000VoicemailMessage } from './Migration20261203000000VoicemailMessage.ts';
import { Migration20261204000100AllowedCountries } from './Migration20261204000100AllowedCountries.ts';
import { Migration20261204000200WebhookSecretEncryption } from './Migration20261204000200WebhookSecretEncryption.ts';
import { Migration20261204000300Retention } from './Migration20261204000300Retention.ts';
import { Migration20261204000400CallDisclosure } from './Migration20261204000400CallDisclosure.ts';
import { Migration20261204000500AuditLog } from './Migration20261204000500AuditLog.ts';
import { Migration20261204001000WebhookAttemptInterrupted } from './Migration20261204001000WebhookAttemptInterrupted.ts';
import { Migration20261204002000InstanceHeartbeats } from './Migration20261204002000InstanceHeartbeats.ts';
import { Migration20261204003000CallLatencyUsage } from './Migration20261204003000CallLatencyUsage.ts';

/**
 * Every migration, in the order they run. Listed explicitly (rather than found by globbing
 * the folder) so they load through Node's type stripping like the rest of the code.
 */
export const migrations = [
  { name: 'Migration20261121000000Initial', class: Migration20261121000000Initial },
  { name: 'Migration20261122000000CallSearch', class: Migration20261122000000CallSearch },
  { name: 'Migration20261123000000PostCallPipeline', class: Migration20261123000000PostCallPipeline },
  { name: 'Migration20261124000000CallTimeline', class: Migration20261124000000CallTimeline },
  { name: 'Migration20261125000000OutboundCalling', class: Migration20261125000000OutboundCalling },
  { name: 'Migration20261203000000VoicemailMessage', class: Migration20261203000000VoicemailMessage },
  { name: 'Migration20261204000100AllowedCountries', class: Migration20261204000100AllowedCountries },
  { name: 'Migration20261204000200WebhookSecretEncryption', class: Migration20261204000200WebhookSecretEncryption },
  { name: 'Migration20261204000300Retention', class: Migration20261204000300Retention },
  { name: 'Migration20261204000400CallDisclosure', class: Migration20261204000400CallDisclosure },
  { name: 'Migration20261204000500AuditLog', class: Migration20261204000500AuditLog },
  { name: 'Migration20261204001000WebhookAttemptInterrupted', class: Migration20261204001000WebhookAttemptInterrupted },
  { name: 'Migration20261204002000InstanceHeartbeats', class: Migration20261204002000InstanceHeartbeats },
  { name: 'Migration20261204003000CallLatencyUsage', class: Migration20261204003000CallLatencyUsage },
];
