import type { ApiKey } from '../entities/api-key.entity.ts';
import type { Appointment } from '../entities/appointment.entity.ts';
import type { BusinessSettings } from '../entities/business-settings.entity.ts';
import type { Business } from '../entities/business.entity.ts';
import type { Call } from '../entities/call.entity.ts';
import type { Campaign } from '../entities/campaign.entity.ts';
import type { Lead } from '../entities/lead.entity.ts';
import type { OutboundCallJob } from '../entities/outbound-call-job.entity.ts';
import type { Row } from '../entities/sql.ts';
import type { WebhookDelivery } from '../entities/webhook-delivery.entity.ts';
import { builder } from './builder.ts';

/**
 * The object types' refs, declared before any type is implemented so that types can point
 * at each other (Call → Lead → Call) without circular imports. Each is implemented in the
 * file named after it.
 */
export const BusinessRef = builder.objectRef<Row<Business>>('Business');
export const BusinessSettingsRef = builder.objectRef<Row<BusinessSettings>>('BusinessSettings');
export const ApiKeyRef = builder.objectRef<Row<ApiKey>>('ApiKey');
export const LeadRef = builder.objectRef<Row<Lead>>('Lead');
export const CallRef = builder.objectRef<Row<Call>>('Call');
export const AppointmentRef = builder.objectRef<Row<Appointment>>('Appointment');
export const OutboundCallJobRef = builder.objectRef<Row<OutboundCallJob>>('OutboundCallJob');
export const CampaignRef = builder.objectRef<Row<Campaign>>('Campaign');
export const WebhookDeliveryRef = builder.objectRef<Row<WebhookDelivery>>('WebhookDelivery');
