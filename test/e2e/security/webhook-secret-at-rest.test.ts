import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withPgClient } from '../../../src/core/db.ts';
import { openOrm } from '../../../src/database.ts';
import { insertDelivery } from '../../../src/entities/webhook-delivery.repository.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../../../src/sandbox/webhook-receiver.ts';
import { startTestApp, type TestApp } from '../../support/app.ts';
import { createTestDatabase, type TestDatabase } from '../../support/database.ts';
import { createCall } from '../../support/factories.ts';
import { createTenant, graphql } from '../../support/graphql.ts';

/**
 * Threat: a database dump, a backup or a read-only SQL injection yields every business's
 * webhook signing secret in plaintext (security review F14), and with it the power to
 * forge `call.completed` webhooks into their CRMs.
 * Defence: secrets are stored AES-256-GCM encrypted under a key derived from APP_SECRET
 * (src/core/secret-box.ts); the upgrade encrypts rows stored in plaintext before it; a start
 * with an APP_SECRET that opens none of them fails naming APP_SECRET, and
 * APP_SECRET_PREVIOUS lets an operator rotate it.
 */

const secretA = randomBytes(32).toString('base64url');
const secretB = randomBytes(32).toString('base64url');
const lastPlaintextMigration = 'Migration20261203000000VoicemailMessage';

let receiver: WebhookReceiver;
const apps: TestApp[] = [];
const databases: TestDatabase[] = [];

beforeAll(async () => {
  receiver = await startWebhookReceiver();
});
afterAll(async () => {
  for (const app of apps.splice(0)) await app.stop();
  for (const database of databases.splice(0)) await database.drop();
  await receiver?.close();
});

/** Callwatch (API and workers) on `database`, webhooks allowed to the loopback receiver. */
async function start(database: TestDatabase, env: Record<string, string>): Promise<TestApp> {
  const app = await startTestApp({ DATABASE_URL: database.url, WEBHOOK_ALLOWED_NETWORKS: '127.0.0.0/8', WORKER_POLL_INTERVAL_MS: '500', ...env });
  apps.push(app);
  return app;
}

async function stop(app: TestApp): Promise<void> {
  apps.splice(apps.indexOf(app), 1);
  await app.stop();
}

async function storedSecrets(database: TestDatabase): Promise<{ business_id: string; webhook_secret: string | null }[]> {
  return withPgClient(database.url, async (client) => (await client.query('select business_id, webhook_secret from business_settings')).rows);
}

/** One webhook delivery of `businessId`, as the worker signs and sends it, as the receiver got it. */
async function deliverOne(app: TestApp, businessId: string) {
  const em = app.services.orm.em.fork();
  const call = await createCall(em, businessId);
  const marker = randomUUID();
  const deliveryId = await insertDelivery(em, { businessId, callId: call.id, revision: 0, url: `${receiver.url}/callwatch`, payload: { marker }, retryUntil: new Date(Date.now() + 60_000) });
  await app.services.queue.send('webhook.deliver', { deliveryId: deliveryId! });
  return receiver.waitForDelivery((delivery) => delivery.payload?.marker === marker, 15_000);
}

/** A database of its own, which outlives the apps started on it. */
async function database(): Promise<TestDatabase> {
  const created = await createTestDatabase();
  databases.push(created);
  return created;
}

describe('webhook signing secrets at rest', () => {
  it('are stored encrypted: no row holds the secret the admin was shown, and deliveries still verify at the receiver', async () => {
    const db = await database();
    const app = await start(db, { APP_SECRET: secretA });
    const tenant = await createTenant(app.services.orm.em);
    const rotated = await graphql(app.url, tenant.keys.admin, 'mutation { rotateWebhookSecret { webhookSecret } }');
    const secret = rotated.data!.rotateWebhookSecret.webhookSecret as string;
    expect(secret).toMatch(/^whsec_/);

    const rows = await storedSecrets(db);
    const stored = rows.find((row) => row.business_id === tenant.businessId)!.webhook_secret!;
    expect(stored).toMatch(/^v1:[\w-]{8}:[\w-]+:[\w-]+:[\w-]+$/);
    for (const row of rows) {
      expect(row.webhook_secret ?? '').not.toContain('whsec_');
      expect(row.webhook_secret ?? '').not.toContain(secret.slice('whsec_'.length));
    }

    receiver.setSecret(secret);
    expect(await deliverOne(app, tenant.businessId)).toMatchObject({ verified: true, status: 200 });
    await stop(app);
  });

  it('written in plaintext before the upgrade are encrypted by it, and deliveries keep verifying with the same secret', async () => {
    const db = await database();
    // The schema as the version before encryption at rest left it, with a business whose secret is plaintext.
    const orm = await openOrm(db.url, { poolSize: 2 });
    const plaintext = `whsec_${randomBytes(32).toString('base64')}`;
    let businessId: string;
    try {
      await withPgClient(db.url, (client) => client.query('drop schema public cascade; drop schema pgboss cascade; create schema public;'));
      await orm.migrator.up({ to: lastPlaintextMigration });
      businessId = randomUUID();
      await orm.em.execute(`insert into businesses (id, name, created_at, updated_at) values ('${businessId}', 'before the upgrade', now(), now())`);
      await orm.em.execute(
        `insert into business_settings (business_id, webhook_secret, extraction_schema, working_hours, calling_hours, updated_at) values ('${businessId}', '${plaintext}', '[]', '{}', '{"0":[{"open":"09:00","close":"18:00"}]}', now())`,
      );
    } finally {
      await orm.close();
    }

    const app = await start(db, { APP_SECRET: secretA });
    const [row] = await storedSecrets(db);
    expect(row!.webhook_secret).not.toContain(plaintext.slice('whsec_'.length));
    expect(row!.webhook_secret).toMatch(/^v1:/);

    receiver.setSecret(plaintext);
    expect(await deliverOne(app, businessId)).toMatchObject({ verified: true, status: 200 });
    await stop(app);
  });

  it('make a start with a different APP_SECRET fail, naming APP_SECRET; with the old key as APP_SECRET_PREVIOUS the start re-encrypts them under the new one', async () => {
    const db = await database();
    const first = await start(db, { APP_SECRET: secretA });
    const tenant = await createTenant(first.services.orm.em);
    const secret = (await graphql(first.url, tenant.keys.admin, 'mutation { rotateWebhookSecret { webhookSecret } }')).data!.rotateWebhookSecret.webhookSecret as string;
    const sealedWithA = (await storedSecrets(db)).find((row) => row.business_id === tenant.businessId)!.webhook_secret;
    await stop(first);

    await expect(start(db, { APP_SECRET: secretB })).rejects.toThrow(/APP_SECRET/);

    const rotated = await start(db, { APP_SECRET: secretB, APP_SECRET_PREVIOUS: secretA });
    const sealedWithB = (await storedSecrets(db)).find((row) => row.business_id === tenant.businessId)!.webhook_secret!;
    expect(sealedWithB).toMatch(/^v1:/);
    expect(sealedWithB.split(':')[1]).not.toBe(sealedWithA!.split(':')[1]);
    receiver.setSecret(secret);
    expect(await deliverOne(rotated, tenant.businessId)).toMatchObject({ verified: true, status: 200 });
    await stop(rotated);

    // Once re-encrypted, the previous key is no longer needed.
    const after = await start(db, { APP_SECRET: secretB });
    expect(await deliverOne(after, tenant.businessId)).toMatchObject({ verified: true, status: 200 });
    await stop(after);
  });
});
