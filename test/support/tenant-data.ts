import type { EntityManager } from '@mikro-orm/postgresql';
import { issueApiKey } from '../../src/entities/api-key.repository.ts';
import type { ApiKey } from '../../src/entities/api-key.entity.ts';
import type { Appointment } from '../../src/entities/appointment.entity.ts';
import type { Call } from '../../src/entities/call.entity.ts';
import type { Campaign } from '../../src/entities/campaign.entity.ts';
import type { Lead } from '../../src/entities/lead.entity.ts';
import type { OutboundCallJob } from '../../src/entities/outbound-call-job.entity.ts';
import { sql, type Row } from '../../src/entities/sql.ts';
import type { WebhookDelivery } from '../../src/entities/webhook-delivery.entity.ts';
import { twilioSid } from '../../src/sandbox/ids.ts';
import { createCall } from './factories.ts';
import { createTenant, type Tenant } from './graphql.ts';

let sequence = 0;

/** A mobile number no other helper hands out (factories.ts uses +97250…). */
export function nextPhone(): string {
  sequence += 1;
  return `+97254${String(1_000_000 + sequence).slice(-7)}`;
}

/** `prefix` and a number no other call of this returns. */
export function unique(prefix: string): string {
  sequence += 1;
  return `${prefix} #${sequence}`;
}

/** A half-hour slot of its own, so bookings made by tests never overlap one another. */
export function nextSlot(): { startsAt: Date; endsAt: Date } {
  sequence += 1;
  const startsAt = new Date(Date.UTC(2031, 5, 1) + sequence * 3_600_000);
  return { startsAt, endsAt: new Date(startsAt.getTime() + 30 * 60_000) };
}

/** Where every seeded tenant's appointment sits: the same slot for every business. */
export const seededSlot = { startsAt: new Date('2031-03-03T08:00:00Z'), endsAt: new Date('2031-03-03T08:30:00Z') };

/**
 * A tenant with one of everything: a lead, an outbound call job to that lead, the call it
 * placed (job.lastCallSid and call.outboundJob point at each other), an appointment booked
 * during the call, a webhook delivery of the call, and its three API keys. Every text value
 * carries `label`, so a response that shows any of it can be caught by that word alone.
 */
export interface SeededTenant extends Tenant {
  label: string;
  name: string;
  businessNumber: string;
  instructions: string;
  lead: Row<Lead>;
  call: Row<Call>;
  appointment: Row<Appointment>;
  job: Row<OutboundCallJob>;
  campaign: Row<Campaign>;
  delivery: Row<WebhookDelivery>;
  apiKeys: Row<ApiKey>[];
}

export async function seedTenant(em: EntityManager, label: string): Promise<SeededTenant> {
  const name = `${label} Renovations`;
  const tenant = await createTenant(em, name);
  const businessId = tenant.businessId;
  const db = sql(em.fork());
  const { e164: businessNumber } = await db.selectFrom('PhoneNumber').select('e164').where('business', '=', businessId).executeTakeFirstOrThrow();
  const instructions = `${label} agent instructions`;
  await db.updateTable('BusinessSettings').set({ agentInstructions: instructions }).where('business', '=', businessId).execute();

  const lead = await db
    .insertInto('Lead')
    .values({ business: businessId, phone: nextPhone(), fullName: `${label} Cohen`, firstName: label, city: `${label}-city` })
    .returningAll()
    .executeTakeFirstOrThrow();
  const callSid = twilioSid('CA');
  const job = await db
    .insertInto('OutboundCallJob')
    .values({ business: businessId, lead: lead.id, purpose: `${label} follow-up`, scheduledAt: new Date(Date.now() + 86_400_000), lastCallSid: callSid })
    .returningAll()
    .executeTakeFirstOrThrow();
  const call = await createCall(em, businessId, {
    lead: lead.id,
    outboundJob: job.id,
    callSid,
    direction: 'outbound',
    fromNumber: businessNumber,
    toNumber: lead.phone,
    summary: `${label} wants a quote`,
    extractedCity: `${label}-city`,
    extractedService: `${label}-service`,
  });
  const appointment = await db
    .insertInto('Appointment')
    .values({ business: businessId, lead: lead.id, call: call.id, ...seededSlot, notes: `${label} visit` })
    .returningAll()
    .executeTakeFirstOrThrow();
  const delivery = await db
    .insertInto('WebhookDelivery')
    .values({ business: businessId, call: call.id, event: 'call.completed', url: `https://${label.toLowerCase()}.example.com/hooks`, payload: { callSid } })
    .returningAll()
    .executeTakeFirstOrThrow();
  const campaign = await db
    .insertInto('Campaign')
    .values({ business: businessId, name: `${label} spring campaign`, purpose: `${label} spring offer`, windowStart: new Date(Date.now() + 7 * 86_400_000) })
    .returningAll()
    .executeTakeFirstOrThrow();
  const apiKeys = await db.selectFrom('ApiKey').selectAll().where('business', '=', businessId).orderBy('id').execute();
  return { ...tenant, label, name, businessNumber, instructions, lead, call, appointment, job, campaign, delivery, apiKeys };
}

/** A lead of `businessId` with this phone number. */
export async function leadWithPhone(em: EntityManager, businessId: string, phone: string): Promise<Row<Lead>> {
  return sql(em.fork()).insertInto('Lead').values({ business: businessId, phone }).returningAll().executeTakeFirstOrThrow();
}

/** A booked appointment of `businessId` in a slot of its own. */
export async function bookedAppointment(em: EntityManager, businessId: string): Promise<Row<Appointment>> {
  return sql(em.fork()).insertInto('Appointment').values({ business: businessId, ...nextSlot() }).returningAll().executeTakeFirstOrThrow();
}

/** A queued outbound call to the tenant's lead, due tomorrow. */
export async function queuedOutboundCall(em: EntityManager, tenant: SeededTenant): Promise<Row<OutboundCallJob>> {
  return sql(em.fork())
    .insertInto('OutboundCallJob')
    .values({ business: tenant.businessId, lead: tenant.lead.id, purpose: 'call back', scheduledAt: new Date(Date.now() + 86_400_000) })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** An active campaign of the tenant, starting in a week (nothing dials meanwhile). */
export async function activeCampaign(em: EntityManager, tenant: SeededTenant): Promise<Row<Campaign>> {
  return sql(em.fork())
    .insertInto('Campaign')
    .values({ business: tenant.businessId, name: 'autumn', purpose: 'autumn offer', windowStart: new Date(Date.now() + 7 * 86_400_000) })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Another key for `businessId`, to revoke without locking a test out. */
export async function spareApiKey(em: EntityManager, businessId: string): Promise<Row<ApiKey>> {
  return (await issueApiKey(em.fork(), { businessId, role: 'viewer', name: 'spare' })).apiKey;
}

/**
 * Everything stored for one business, in a stable order. Two snapshots are equal when
 * nothing of the business was written in between (`lastUsedAt` aside: authenticating a
 * request refreshes it, and that is not a change the request made).
 */
export async function snapshotBusiness(em: EntityManager, businessId: string) {
  const db = sql(em.fork());
  return {
    business: await db.selectFrom('Business').selectAll().where('id', '=', businessId).execute(),
    settings: await db.selectFrom('BusinessSettings').selectAll().where('business', '=', businessId).execute(),
    phoneNumbers: await db.selectFrom('PhoneNumber').selectAll().where('business', '=', businessId).orderBy('e164').execute(),
    apiKeys: await db
      .selectFrom('ApiKey')
      .select(['id', 'name', 'role', 'prefix', 'keyHash', 'createdAt', 'revokedAt'])
      .where('business', '=', businessId)
      .orderBy('id')
      .execute(),
    leads: await db.selectFrom('Lead').selectAll().where('business', '=', businessId).orderBy('id').execute(),
    calls: await db.selectFrom('Call').selectAll().where('business', '=', businessId).orderBy('id').execute(),
    appointments: await db.selectFrom('Appointment').selectAll().where('business', '=', businessId).orderBy('id').execute(),
    outboundCallJobs: await db.selectFrom('OutboundCallJob').selectAll().where('business', '=', businessId).orderBy('id').execute(),
    campaigns: await db.selectFrom('Campaign').selectAll().where('business', '=', businessId).orderBy('id').execute(),
    webhookDeliveries: await db.selectFrom('WebhookDelivery').selectAll().where('business', '=', businessId).orderBy('id').execute(),
  };
}
