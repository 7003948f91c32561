import { ApiKey } from './api-key.entity.ts';
import { AuditLogEntry } from './audit-log.entity.ts';
import { Appointment } from './appointment.entity.ts';
import { BusinessSettings } from './business-settings.entity.ts';
import { Business } from './business.entity.ts';
import { CallRecording } from './call-recording.entity.ts';
import { Campaign } from './campaign.entity.ts';
import { DialerPace } from './dialer-pace.entity.ts';
import { Call } from './call.entity.ts';
import { InstanceHeartbeat } from './instance-heartbeat.entity.ts';
import { Lead } from './lead.entity.ts';
import { OutboundCallJob } from './outbound-call-job.entity.ts';
import { PhoneNumber } from './phone-number.entity.ts';
import { WebhookDelivery } from './webhook-delivery.entity.ts';

/** Every entity, in the order the ORM is told about them. */
export const entities = [
  Business,
  PhoneNumber,
  BusinessSettings,
  ApiKey,
  Lead,
  Campaign,
  OutboundCallJob,
  Call,
  CallRecording,
  Appointment,
  WebhookDelivery,
  DialerPace,
  AuditLogEntry,
  InstanceHeartbeat,
];
