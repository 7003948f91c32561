import type { EntityManager } from '@mikro-orm/postgresql';
import { firstNameOf } from '../../src/core/names.ts';
import { Appointment } from '../../src/entities/appointment.entity.ts';
import { Call } from '../../src/entities/call.entity.ts';
import { Lead } from '../../src/entities/lead.entity.ts';
import { WebhookDelivery } from '../../src/entities/webhook-delivery.entity.ts';
import { benchCallSid, businessNumber } from './scenario.ts';

const fullNames = ['יוסי כהן', 'מיכל לוי', 'אבי מזרחי', 'נועה פרץ', 'ד״ר דוד ביטון', 'רונית אזולאי', 'עומר דהן', 'שירה אברהם'];
const cities = ['חיפה', 'תל אביב', 'נצרת', 'עכו', 'כרמיאל'];
const services = ['שיפוץ מטבח', 'שיפוץ אמבטיה', 'צביעה', 'ריצוף'];
const webhookEvents = ['call.completed', 'call.analyzed'] as const;
const hourMs = 3_600_000;

export interface CallHistory {
  calls: number;
  appointments: number;
  deliveries: number;
}

/**
 * A business's past: `count` finished calls an hour apart, each from a lead of its own,
 * with one or two appointments booked during it and one or two webhook deliveries (the two
 * alternate independently, so a page holds every combination). Everything lies more than
 * 90 days back, clear of the coming-week bookings of `seedScenario`; appointments sit in
 * back-to-back half-hour slots, so the no-overlap constraint holds.
 */
export async function seedCallHistory(rootEm: EntityManager, businessId: string, count: number, run: number): Promise<CallHistory> {
  const em = rootEm.fork();
  const start = Date.now() - 90 * 86_400_000 - count * hourMs;
  let appointments = 0;
  let deliveries = 0;
  for (let i = 0; i < count; i++) {
    const fullName = fullNames[i % fullNames.length] ?? null;
    const lead = em.create(Lead, {
      business: businessId,
      phone: `+97252${String(i).padStart(7, '0')}`,
      fullName,
      firstName: firstNameOf(fullName) ?? null,
      city: cities[i % cities.length] ?? null,
      serviceCategory: services[i % services.length] ?? null,
      status: 'booked',
    });
    const startedAt = new Date(start + i * hourMs);
    const call = em.create(Call, {
      business: businessId,
      lead,
      callSid: benchCallSid(run, i),
      direction: i % 3 === 0 ? 'outbound' : 'inbound',
      fromNumber: lead.phone,
      toNumber: businessNumber,
      status: 'completed',
      startedAt,
      endedAt: new Date(startedAt.getTime() + 150_000),
      durationSec: 150,
      summary: 'הלקוח ביקש הצעת מחיר, נקבע ביקור.',
      extractedCity: lead.city,
      extractedService: lead.serviceCategory,
      pipelineStatus: 'completed',
      createdAt: startedAt,
    });
    for (let a = 0; a < 1 + (i % 2); a++) {
      // Slot 2 × i + a of a half-hour grid: unique per appointment, so none overlap.
      const startsAt = new Date(start + (2 * i + a) * 30 * 60_000);
      em.create(Appointment, { business: businessId, lead, call, startsAt, endsAt: new Date(startsAt.getTime() + 30 * 60_000), status: 'completed', notes: 'ביקור להערכת מחיר' });
      appointments++;
    }
    for (const [e, event] of webhookEvents.slice(0, 1 + (Math.floor(i / 2) % 2)).entries()) {
      // A minute apart, as the pipeline sends them: deliveries are listed by creation time.
      const createdAt = new Date(startedAt.getTime() + 200_000 + e * 60_000);
      const at = createdAt.toISOString();
      em.create(WebhookDelivery, {
        business: businessId,
        call,
        event,
        url: 'https://crm.example.test/hooks/callwatch',
        payload: { event, callId: call.id },
        attempts: [
          { at, statusCode: 503, durationMs: 120, error: 'receiver answered 503' },
          { at, statusCode: 200, durationMs: 85, error: null },
        ],
        status: 'delivered',
        deliveredAt: createdAt,
        createdAt,
      });
      deliveries++;
    }
  }
  await em.flush();
  return { calls: count, appointments, deliveries };
}
