import type { Slot } from '../core/business-hours.ts';
import { dialingCountries, dialRefusal } from '../core/dialable-numbers.ts';
import { freeSlots } from '../core/business-hours.ts';
import type { Orm } from '../core/db.ts';
import type { Appointment } from '../entities/appointment.entity.ts';
import type { BusinessSettings } from '../entities/business-settings.entity.ts';
import type { Business } from '../entities/business.entity.ts';
import type { Call } from '../entities/call.entity.ts';
import type { Lead } from '../entities/lead.entity.ts';
import type { OutboundCallJob } from '../entities/outbound-call-job.entity.ts';
import type { Row } from '../entities/sql.ts';
import { AppError } from '../core/errors.ts';
import { createLoaders } from '../loaders/index.ts';
import { callDisclosure, openingLine } from './agent/call-disclosure.ts';
import { buildInstructions, renderGreeting, type Gender } from './agent/prompt.ts';
import type { CallRef } from './twilio-line/stream-token.ts';

/** How far ahead free slots are computed at call start. */
export const slotDays = 7;

/**
 * Everything a call needs, loaded once at call start and held on the call session: plain
 * data, no entities, so nothing during the call can reach the database by accident.
 */
export interface CallContext {
  callId: string;
  callSid: string;
  direction: 'inbound' | 'outbound';
  business: { id: string; name: string; timeZone: string; locale: string };
  settings: {
    voice: string;
    language: string;
    recordCalls: boolean;
    silenceTimeoutSec: number;
    silenceReprompts: number;
    maxCallDurationSec: number;
    /** Only a number the business may dial now (core/dialable-numbers.ts); null otherwise. */
    transferNumber: string | null;
    appointmentSlotMinutes: number;
    /** Countries a transfer may reach, so a supervisor's transfer is checked without the database. */
    dialingCountries: string[];
  };
  lead: { id: string; phone: string; fullName: string | null; firstName: string | null; gender: Gender | null } | null;
  outboundJob: { id: string; purpose: string; instructions: string | null } | null;
  /** Free appointment slots of the coming days, soonest first. */
  slots: Slot[];
  /** The agent's first sentence: the call disclosure (unless the business turned it off), then the greeting. */
  greeting: string;
  instructions: string;
  /**
   * Set when the call was answered while Postgres was unreachable (routing-cache.ts): its
   * row does not exist yet, and is written from this when Postgres is back (openOfflineCall).
   */
  offline?: OfflineCallOpen;
}

/** What the row of a call answered while Postgres was unreachable is written from. */
export interface OfflineCallOpen {
  businessId: string;
  callSid: string;
  fromNumber: string;
  toNumber: string;
  /** The caller's number in E.164, the lead the call is with; null when it could not be read. */
  leadPhone: string | null;
  /** When the voice webhook answered: the row's creation time. */
  arrivedAt: Date;
}

/** The rows a call's context is built from: fetchCallRows, or the routing cache (offline). */
export interface CallRows {
  call: Pick<Row<Call>, 'id' | 'callSid' | 'direction'> | null;
  business: Row<Business> | null;
  settings: Row<BusinessSettings> | null;
  lead: Row<Lead> | null;
  job: Row<OutboundCallJob> | null;
  /** The business's booked appointments overlapping the coming `slotDays`. */
  booked: Row<Appointment>[];
  /** The business's numbers (E.164). */
  phoneNumbers: string[];
}

/**
 * Loads a call's context in one batched tick: call, business, settings, lead, outbound job,
 * the business's bookings and phone numbers are requested together, so the wall time is
 * about one database round trip. The prompt is built here too, once.
 */
export async function loadCallContext(orm: Orm, claims: CallRef, now = new Date()): Promise<CallContext> {
  const [call, business, settings, lead, job, booked, phoneNumbers] = await fetchCallRows(orm, claims, now);
  return buildCallContext(claims, { call, business, settings, lead, job, booked, phoneNumbers }, now);
}

/** A call's context from its rows: the free slots, the greeting and the prompt, without the database. */
export function buildCallContext(claims: CallRef, rows: CallRows, now = new Date()): CallContext {
  const { call, business, settings, lead, job, booked, phoneNumbers } = rows;
  if (!call || !business || !settings || call.callSid !== claims.callSid) {
    throw new AppError('NOT_FOUND', `call ${claims.callSid} has no call row, business or settings`);
  }

  const slots = freeSlots({
    now,
    days: slotDays,
    timeZone: business.timezone,
    workingHours: settings.workingHours,
    slotMinutes: settings.appointmentSlotMinutes,
    booked,
  });
  const firstName = lead?.firstName ?? null;
  const gender = lead?.gender ?? null;
  // On a call the agent placed, it introduces the business; the reason follows (greetingResponse).
  const template = call.direction === 'outbound' ? settings.outboundGreetingTemplate : settings.greetingTemplate;
  const countries = dialingCountries(settings.allowedCountries, phoneNumbers, business.locale);
  // A transfer number saved before the rule, or since made unreachable by a change of
  // countries, is as good as none: the caller hears that no one can take the call.
  const transferNumber = settings.transferNumber && !dialRefusal(settings.transferNumber, countries) ? settings.transferNumber : null;
  // The disclosure is part of the greeting: loaded with the settings, said in the first sentence.
  const greeting = openingLine(callDisclosure(settings), renderGreeting({ template, businessName: business.name, firstName, gender }));
  const outboundJob = job ? { id: job.id, purpose: job.purpose, instructions: job.instructions ?? null } : null;
  const instructions = buildInstructions({
    agentInstructions: settings.agentInstructions,
    businessName: business.name,
    timeZone: business.timezone,
    language: settings.language,
    now,
    direction: call.direction,
    caller: lead
      ? { fullName: lead.fullName ?? null, firstName, gender, city: lead.city ?? null, service: lead.serviceCategory ?? null }
      : null,
    outbound: outboundJob,
    slots,
    greeting,
  });

  return {
    callId: call.id,
    callSid: call.callSid,
    direction: call.direction,
    business: { id: business.id, name: business.name, timeZone: business.timezone, locale: business.locale },
    settings: {
      voice: settings.voice,
      language: settings.language,
      recordCalls: settings.recordCalls,
      silenceTimeoutSec: settings.silenceTimeoutSec,
      silenceReprompts: settings.silenceReprompts,
      maxCallDurationSec: settings.maxCallDurationSec,
      transferNumber,
      appointmentSlotMinutes: settings.appointmentSlotMinutes,
      dialingCountries: countries,
    },
    lead: lead ? { id: lead.id, phone: lead.phone, fullName: lead.fullName ?? null, firstName, gender } : null,
    outboundJob,
    slots,
    greeting,
    instructions,
  };
}

/**
 * The database half of loadCallContext: every row a call needs, requested in the same tick
 * through the shared loaders (one query per loader, run side by side).
 */
export function fetchCallRows(orm: Orm, claims: CallRef, now = new Date()) {
  const loaders = createLoaders(orm.em.fork(), {
    appointmentWindow: { from: now, to: new Date(now.getTime() + slotDays * 86_400_000) },
  });
  return Promise.all([
    loaders.callById.load(claims.callId),
    loaders.businessById.load(claims.businessId),
    loaders.settingsByBusinessId.load(claims.businessId),
    claims.leadId ? loaders.leadById.load(claims.leadId) : null,
    claims.outboundJobId ? loaders.outboundJobById.load(claims.outboundJobId) : null,
    loaders.bookedAppointmentsByBusinessId.load(claims.businessId),
    loaders.phoneNumbersByBusinessId.load(claims.businessId),
  ]);
}

/** How long a pre-warmed context waits for its media stream. */
const prewarmTtlMs = 60_000;

/**
 * Contexts pre-warmed by the voice webhook, waiting for their media stream to start on this
 * instance. A stream that lands elsewhere loads its own; an entry nobody takes expires.
 */
export class CallContextCache {
  readonly #entries = new Map<string, { context: Promise<CallContext>; expires: number }>();
  readonly #sweeper: NodeJS.Timeout;

  constructor() {
    this.#sweeper = setInterval(() => this.#sweep(), prewarmTtlMs).unref();
  }

  /** Starts loading the context for `claims` now; a failure surfaces when it is taken. */
  prewarm(orm: Orm, claims: CallRef): void {
    const context = loadCallContext(orm, claims);
    context.catch(() => {});
    this.#entries.set(claims.callSid, { context, expires: Date.now() + prewarmTtlMs });
  }

  /** Holds a context built without the database (a call answered from the routing cache) for its stream. */
  put(context: CallContext): void {
    this.#entries.set(context.callSid, { context: Promise.resolve(context), expires: Date.now() + prewarmTtlMs });
  }

  /** The pre-warmed context of `callSid`, removed from the cache; undefined when none. */
  take(callSid: string): Promise<CallContext> | undefined {
    const entry = this.#entries.get(callSid);
    this.#entries.delete(callSid);
    return entry && entry.expires > Date.now() ? entry.context : undefined;
  }

  /** Contexts pre-warmed less than `withinMs` ago and not taken yet: calls whose stream may still come here. */
  recent(withinMs: number): number {
    const since = Date.now() + prewarmTtlMs - withinMs;
    let count = 0;
    for (const entry of this.#entries.values()) if (entry.expires > since) count++;
    return count;
  }

  /**
   * Stops the sweeper and waits for the loads still running: shutdown closes the ORM next,
   * and a pool ended under a query in flight can wait for it forever.
   */
  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    const loads = [...this.#entries.values()].map((entry) => entry.context);
    this.#entries.clear();
    await Promise.allSettled(loads);
  }

  #sweep(): void {
    const now = Date.now();
    for (const [callSid, entry] of this.#entries) if (entry.expires <= now) this.#entries.delete(callSid);
  }
}
