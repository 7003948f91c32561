import type { Config } from './config.ts';
import { AppError } from './errors.ts';
import { WebhookDestinations } from './webhook-destinations.ts';

/**
 * The rules a webhook URL must pass when a business saves it (security review F15), so a
 * bad destination is refused to the admin who types it instead of failing every delivery:
 * the sender's own destination rules (WebhookDestinations: no loopback, private or
 * link-local address, by the literal or by what the name resolves to now), and in
 * production `https` — payloads carry callers' numbers and transcripts — unless every
 * address of the host is in WEBHOOK_ALLOWED_NETWORKS (a receiver on the operator's own
 * network). The send-time check stays: a name can resolve elsewhere later.
 * Throws AppError('VALIDATION_FAILED') naming `field`.
 */
export async function checkSavedWebhookUrl(config: Config, field: string, url: string): Promise<void> {
  const target = new URL(url);
  const destinations = new WebhookDestinations(config.webhooks.allowedNetworks);
  const { refusal, addresses } = await destinations.savedUrlRefusal(target);
  if (refusal) throw invalid(field, `Webhooks cannot go to this address: ${refusal}.`);
  const allowListed = addresses.length > 0 && addresses.every((address) => destinations.allowListed(address));
  if (config.env === 'production' && target.protocol !== 'https:' && !allowListed) {
    throw invalid(field, 'must be an https URL (http only to networks in WEBHOOK_ALLOWED_NETWORKS): webhooks carry callers’ numbers and transcripts.');
  }
}

function invalid(field: string, message: string): AppError {
  return new AppError('VALIDATION_FAILED', `webhook URL refused: ${message}`, { userMessage: message, details: { field } });
}
