import type { JobHandler } from '../../core/queue.ts';
import type { Services } from '../../core/services.ts';
import type { WebhookAttempt, WebhookDeliveryStatus } from '../../entities/webhook-delivery.entity.ts';
import { secretBoxOf } from '../../core/secret-box.ts';
import { interruptedAttempt, loadDelivery, recordAttempt, startAttempt } from '../../entities/webhook-delivery.repository.ts';
import { webhookSigningSecret } from '../../entities/webhook-secret.repository.ts';
import { WebhookDestinations } from '../../core/webhook-destinations.ts';
import { postWebhook } from './post.ts';
import { classifyStatus, parseRetryAfter, retryDelayMs } from './retry-policy.ts';
import { signatureHeaders } from './sign.ts';
import { traceparentOf } from '../../core/tracing.ts';

/**
 * The `webhook.deliver` job: one attempt to deliver one webhook. The body is the payload
 * frozen when the delivery was written and `webhook-id` is the delivery's, so every
 * attempt is the same message to the receiver; only the timestamp and signature are new.
 * An attempt is marked as under way before its POST (one statement), so one cut off by a
 * killed worker is recorded as interrupted when the job resumes. The attempt and its
 * consequence are recorded together: delivered (2xx), failed (4xx
 * other than 408/429, or a refused destination — no retry), dead (the retry window is
 * over), or pending with the next attempt's job enqueued in the same transaction.
 */
export function deliverWebhook(services: Services): JobHandler<'webhook.deliver'> {
  const { config, metrics, bus } = services;
  const destinations = new WebhookDestinations(config.webhooks.allowedNetworks);
  return async ({ deliveryId }, { logger, span }) => {
    const em = services.orm.em.fork();
    const delivery = await loadDelivery(em, deliveryId);
    if (!delivery || delivery.status !== 'pending') return;

    const at = new Date();
    const body = JSON.stringify(delivery.payload);
    // Opened only here, to sign. A secret no configured key opens throws (the job fails
    // and is retried, logged with the reason): nothing is ever signed with a wrong key.
    const secret = await webhookSigningSecret(em, delivery.business, delivery.secret, secretBoxOf(config));
    const headers = signatureHeaders(secret, delivery.webhookId, body, at);
    // Marked before the POST, so that a worker killed while the receiver has the request
    // leaves a trace: the next run records that attempt as interrupted, and the log of
    // attempts matches what the receiver saw.
    const cutOff = delivery.attemptStartedAt ? interruptedAttempt(delivery.attemptStartedAt) : null;
    const attemptsBefore = await startAttempt(em, deliveryId, delivery.attempts.length, at, cutOff);
    if (attemptsBefore === null) return logger.info({ deliveryId }, 'webhook: another run recorded this attempt first');
    if (cutOff) logger.warn({ deliveryId, attempt: attemptsBefore, startedAt: cutOff.at }, 'webhook attempt interrupted');
    const result = await postWebhook(delivery.url, headers, body, config.webhooks.timeoutMs, destinations);
    metrics.increment('webhook_attempts_total');

    const attempt: WebhookAttempt = { at: at.toISOString(), statusCode: result.statusCode, durationMs: result.durationMs, error: result.error };
    const verdict = result.refused ? 'failed' : classifyStatus(result.statusCode);
    let status: WebhookDeliveryStatus = verdict === 'retry' ? 'pending' : verdict;
    let nextAttemptAt: Date | null = null;
    if (verdict === 'retry') {
      const delay = retryDelayMs(attemptsBefore + 1, config.webhooks.retryBaseMs, parseRetryAfter(result.retryAfter));
      nextAttemptAt = new Date(Date.now() + delay);
      if (nextAttemptAt > delivery.retryUntil) {
        status = 'dead';
        nextAttemptAt = null;
      }
    }

    const record = { attempt, status, nextAttemptAt };
    // The next attempt's job and the attempt that calls for it are one transaction; an attempt
    // that ends the delivery is one statement, which needs no transaction around it.
    const recorded = nextAttemptAt
      ? await em.transactional(async (tx) => {
          if (!(await recordAttempt(tx, deliveryId, attemptsBefore, record))) return false;
          await services.queue.send('webhook.deliver', { deliveryId }, { em: tx, startAfter: nextAttemptAt, traceparent: span && traceparentOf(span) });
          return true;
        })
      : await recordAttempt(em, deliveryId, attemptsBefore, record);
    if (!recorded) return logger.info({ deliveryId }, 'webhook: another run recorded this attempt first');
    // Observed once recorded, so an attempt another run recorded first is not counted twice.
    metrics.observe('webhook_attempt_seconds', result.durationMs / 1000, { outcome: result.refused ? 'refused' : status === 'pending' ? 'retry' : status });

    // The outcome, never the URL (it may hold a token) or the body.
    span?.setAttributes({ 'callwatch.webhook.status': status, ...(result.statusCode === null ? {} : { 'http.response.status_code': result.statusCode }) });
    if (result.refused) metrics.increment('webhook_refused_total');
    if (status === 'delivered') metrics.increment('webhook_delivered_total');
    if (status === 'failed') metrics.increment('webhook_failed_total');
    if (status === 'dead') metrics.increment('webhook_dead_total');
    const log = status === 'delivered' ? logger.info.bind(logger) : logger.warn.bind(logger);
    log({ deliveryId, attempt: attemptsBefore + 1, statusCode: result.statusCode, error: result.error, status, nextAttemptAt }, 'webhook attempt');
    bus.publish('call:events', delivery.call, {
      type: 'webhook.attempt',
      callId: delivery.call,
      deliveryId,
      status,
      statusCode: result.statusCode,
      error: result.error,
      at: attempt.at,
    });
  };
}
