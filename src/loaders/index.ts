import DataLoader from 'dataloader';
import type { EntityName } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { ApiKey } from '../entities/api-key.entity.ts';
import { Appointment } from '../entities/appointment.entity.ts';
import { AuditLogEntry } from '../entities/audit-log.entity.ts';
import { BusinessSettings } from '../entities/business-settings.entity.ts';
import { Business } from '../entities/business.entity.ts';
import { Call } from '../entities/call.entity.ts';
import { Campaign } from '../entities/campaign.entity.ts';
import { Lead } from '../entities/lead.entity.ts';
import { OutboundCallJob } from '../entities/outbound-call-job.entity.ts';
import { sql, type Row } from '../entities/sql.ts';
import { WebhookDelivery } from '../entities/webhook-delivery.entity.ts';

/**
 * Batching loaders over one entity manager: every `load` issued in the same tick becomes
 * one query per loader, and the loaders' queries run side by side. One set serves one
 * GraphQL request or one call start — never longer, so nothing stale is cached.
 */
export interface Loaders {
  businessById: DataLoader<string, Row<Business> | null>;
  settingsByBusinessId: DataLoader<string, Row<BusinessSettings> | null>;
  leadById: DataLoader<string, Row<Lead> | null>;
  callById: DataLoader<string, Row<Call> | null>;
  outboundJobById: DataLoader<string, Row<OutboundCallJob> | null>;
  campaignById: DataLoader<string, Row<Campaign> | null>;
  appointmentById: DataLoader<string, Row<Appointment> | null>;
  webhookDeliveryById: DataLoader<string, Row<WebhookDelivery> | null>;
  apiKeyById: DataLoader<string, Row<ApiKey> | null>;
  auditLogEntryById: DataLoader<string, Row<AuditLogEntry> | null>;
  /** Booked appointments overlapping the window given at creation, by business, by start. */
  bookedAppointmentsByBusinessId: DataLoader<string, Row<Appointment>[]>;
  leadByPhone: DataLoader<LeadPhoneKey, Row<Lead> | null, string>;
  /** By Twilio call SID. */
  callBySid: DataLoader<string, Row<Call> | null>;
  /** A lead's most recent calls (at most `callsPerLead`), newest first. */
  callsByLeadId: DataLoader<string, Row<Call>[]>;
  /** A lead's appointments in every status, by start. */
  appointmentsByLeadId: DataLoader<string, Row<Appointment>[]>;
  /** Appointments booked during a call, by start. */
  appointmentsByCallId: DataLoader<string, Row<Appointment>[]>;
  /** A call's webhook deliveries, oldest first. */
  webhookDeliveriesByCallId: DataLoader<string, Row<WebhookDelivery>[]>;
  /** A business's API keys, newest first. */
  apiKeysByBusinessId: DataLoader<string, Row<ApiKey>[]>;
  /** A business's phone numbers (E.164), sorted. */
  phoneNumbersByBusinessId: DataLoader<string, string[]>;
}

export interface LeadPhoneKey {
  businessId: string;
  /** E.164. */
  phone: string;
}

/** How many of a lead's calls `callsByLeadId` returns. */
export const callsPerLead = 50;

export interface LoaderOptions {
  /**
   * False: every \`load\` is its own query and nothing is cached — the access pattern
   * without DataLoader, kept only as the baseline \`npm run bench:graphql\` compares against.
   */
  batch?: boolean;
  /** The window `bookedAppointmentsByBusinessId` covers; default now → 14 days ahead. */
  appointmentWindow?: { from: Date; to: Date };
}

export function createLoaders(em: EntityManager, options: LoaderOptions = {}): Loaders {
  const from = options.appointmentWindow?.from ?? new Date();
  const to = options.appointmentWindow?.to ?? new Date(from.getTime() + 14 * 86_400_000);
  const base = options.batch === false ? { batch: false, cache: false } : {};
  return {
    businessById: byKey(em, Business, 'id', base),
    leadById: byKey(em, Lead, 'id', base),
    callById: byKey(em, Call, 'id', base),
    outboundJobById: byKey(em, OutboundCallJob, 'id', base),
    campaignById: byKey(em, Campaign, 'id', base),
    appointmentById: byKey(em, Appointment, 'id', base),
    webhookDeliveryById: byKey(em, WebhookDelivery, 'id', base),
    apiKeyById: byKey(em, ApiKey, 'id', base),
    auditLogEntryById: byKey(em, AuditLogEntry, 'id', base),
    settingsByBusinessId: byKey(em, BusinessSettings, 'business', base),
    bookedAppointmentsByBusinessId: new DataLoader(async (businessIds) => {
      const rows = await rowsWhere(em, Appointment, {
        business: { $in: [...businessIds] },
        status: 'booked',
        startsAt: { $lt: to },
        endsAt: { $gt: from },
      });
      rows.sort((a, b) => a.startsAt.getTime() - b.startsAt.getTime());
      return businessIds.map((id) => rows.filter((row) => row.business === id));
    }, base),
    leadByPhone: new DataLoader(
      async (keys) => {
        const rows = await sql(em)
          .selectFrom('Lead')
          .selectAll()
          .where((eb) => eb.or(keys.map((key) => eb.and([eb('business', '=', key.businessId), eb('phone', '=', key.phone)]))))
          .execute();
        return keys.map((key) => rows.find((row) => row.business === key.businessId && row.phone === key.phone) ?? null);
      },
      { ...base, cacheKeyFn: (key) => `${key.businessId}:${key.phone}` },
    ),
    callBySid: byKey(em, Call, 'callSid', base),
    callsByLeadId: new DataLoader(async (leadIds) => {
      const rows = await sql(em)
        .selectFrom((db) =>
          db
            .selectFrom('Call')
            .selectAll()
            .select((eb) => eb.fn.agg<number>('row_number').over((over) => over.partitionBy('lead').orderBy('createdAt', 'desc').orderBy('id', 'desc')).as('rank'))
            .where('lead', 'in', [...leadIds])
            .as('ranked'),
        )
        .selectAll()
        .where('rank', '<=', callsPerLead)
        .orderBy('rank')
        .execute();
      return leadIds.map((id) => rows.filter((row) => row.lead === id).map(({ rank: _rank, ...call }) => call as Row<Call>));
    }, base),
    appointmentsByLeadId: groupedBy(async (ids) =>
      sql(em).selectFrom('Appointment').selectAll().where('lead', 'in', ids).orderBy('startsAt').orderBy('id').execute(), 'lead', base),
    appointmentsByCallId: groupedBy(async (ids) =>
      sql(em).selectFrom('Appointment').selectAll().where('call', 'in', ids).orderBy('startsAt').orderBy('id').execute(), 'call', base),
    webhookDeliveriesByCallId: groupedBy(async (ids) =>
      sql(em).selectFrom('WebhookDelivery').selectAll().where('call', 'in', ids).orderBy('createdAt').orderBy('id').execute(), 'call', base),
    apiKeysByBusinessId: groupedBy(async (ids) =>
      sql(em).selectFrom('ApiKey').selectAll().where('business', 'in', ids).orderBy('createdAt', 'desc').orderBy('id', 'desc').execute(), 'business', base),
    phoneNumbersByBusinessId: new DataLoader(async (businessIds) => {
      const rows = await sql(em).selectFrom('PhoneNumber').select(['e164', 'business']).where('business', 'in', [...businessIds]).orderBy('e164').execute();
      return businessIds.map((id) => rows.filter((row) => row.business === id).map((row) => row.e164));
    }, base),
  };
}

/** A loader of the rows whose `key` column equals each requested id, in the order `load` returns them. */
function groupedBy<R extends Record<K, unknown>, K extends string>(
  load: (ids: string[]) => Promise<R[]>,
  key: K,
  options: DataLoader.Options<string, R[]>,
): DataLoader<string, R[]> {
  return new DataLoader(async (ids) => {
    const rows = await load([...ids]);
    return ids.map((id) => rows.filter((row) => row[key] === id));
  }, options);
}

/** Rows of `entity` matching `where`, mapped to property names (one statement, no hydration). */
async function rowsWhere<T extends object>(em: EntityManager, entity: EntityName<T>, where: Record<string, unknown>): Promise<Row<T>[]> {
  // `where` is built by this module for the entity it names; the query builder cannot type it generically.
  return em.createQueryBuilder(entity).select('*').where(where as never).execute('all') as Promise<Row<T>[]>;
}

/** A loader of single rows by a unique column. */
function byKey<T extends object>(
  em: EntityManager,
  entity: EntityName<T>,
  /** A column holding unique values (an id, a one-to-one owner's foreign key, a SID). */
  key: 'id' | 'business' | 'callSid',
  options: DataLoader.Options<string, Row<T> | null>,
): DataLoader<string, Row<T> | null> {
  return new DataLoader(async (keys) => {
    const rows = await rowsWhere(em, entity, { [key]: { $in: [...keys] } });
    const found = new Map(rows.map((row) => [(row as Record<string, unknown>)[key] as string, row]));
    return keys.map((value) => found.get(value) ?? null);
  }, options);
}
