import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { productionEnvironment, startTestApp, type TestApp } from '../../support/app.ts';
import { createTenant, graphql, type Tenant } from '../../support/graphql.ts';

/**
 * Threat: an admin key saves a webhook URL that points into Callwatch's own network
 * (loopback, private, link-local cloud metadata) or a plain-http URL that carries callers'
 * numbers and transcripts in clear (security review F15). Such URLs were accepted when
 * saved and only refused when sent, so nobody saw why deliveries failed.
 * Defence: updateBusinessSettings applies the sender's destination rules when the URL is
 * saved (the literal address, or what the name resolves to now) and, in production,
 * requires https unless the host is in WEBHOOK_ALLOWED_NETWORKS; a refusal is a
 * ValidationError naming the field. The send-time check stays (a name can resolve
 * elsewhere later). No test here needs DNS beyond /etc/hosts (`localhost`) and nothing is sent.
 */

const production = {
  ...productionEnvironment,
  // The operator's own receivers live here.
  WEBHOOK_ALLOWED_NETWORKS: '10.20.0.0/16',
};

const save = `mutation($input: UpdateBusinessSettingsInput!) {
  updateBusinessSettings(input: $input) {
    __typename
    ... on ValidationError { fieldErrors { path message } }
    ... on BusinessSettings { inboundWebhookUrl outboundWebhookUrl }
  }
}`;

describe('webhook URLs when they are saved', () => {
  let app: TestApp;
  let tenant: Tenant;
  beforeAll(async () => {
    app = await startTestApp(production);
    tenant = await createTenant(app.services.orm.em);
  });
  afterAll(() => app?.stop());

  const update = async (input: Record<string, string>) => (await graphql(app.url, tenant.keys.admin, save, { input })).data?.updateBusinessSettings;

  it('in production, refuse http:// to a public address, naming the field', async () => {
    const result = await update({ outboundWebhookUrl: 'http://203.0.113.10/hooks/calls' });
    expect(result).toMatchObject({ __typename: 'ValidationError', fieldErrors: [{ path: ['input', 'outboundWebhookUrl'], message: expect.stringMatching(/https/) }] });
  });

  it('in production, accept http:// to a network in WEBHOOK_ALLOWED_NETWORKS', async () => {
    expect(await update({ inboundWebhookUrl: 'http://10.20.0.5:8080/callwatch' })).toMatchObject({ __typename: 'BusinessSettings', inboundWebhookUrl: 'http://10.20.0.5:8080/callwatch' });
  });

  it('accept https:// to a public address', async () => {
    expect(await update({ inboundWebhookUrl: 'https://203.0.113.10/hooks/calls' })).toMatchObject({ __typename: 'BusinessSettings', inboundWebhookUrl: 'https://203.0.113.10/hooks/calls' });
  });

  it.each([
    'https://127.0.0.1/hooks',
    'https://localhost:8443/hooks',
    'https://169.254.169.254/latest/meta-data/',
    'https://[::1]/hooks',
    'https://10.1.2.3/hooks',
    'https://[::ffff:192.168.1.1]/hooks',
  ])('refuse %s (loopback, link-local or private), naming the field, and keep the URL saved before', async (url) => {
    const result = await update({ inboundWebhookUrl: url });
    expect(result).toMatchObject({ __typename: 'ValidationError', fieldErrors: [{ path: ['input', 'inboundWebhookUrl'], message: expect.stringMatching(/private or loopback/) }] });
    const settings = await graphql(app.url, tenant.keys.admin, '{ viewer { business { settings { inboundWebhookUrl } } } }');
    expect(settings.data?.viewer.business.settings.inboundWebhookUrl).toBe('https://203.0.113.10/hooks/calls');
  });
});

describe('webhook URLs outside production', () => {
  let app: TestApp;
  let tenant: Tenant;
  beforeAll(async () => {
    app = await startTestApp({ ROLE: 'api' });
    tenant = await createTenant(app.services.orm.em);
  });
  afterAll(() => app?.stop());

  it('refuse a loopback destination when saved as well (not only when sent), and accept http:// to a public address', async () => {
    const refused = await graphql(app.url, tenant.keys.admin, save, { input: { outboundWebhookUrl: 'http://localhost:3000/hooks' } });
    expect(refused.data?.updateBusinessSettings).toMatchObject({ __typename: 'ValidationError', fieldErrors: [{ path: ['input', 'outboundWebhookUrl'] }] });
    const accepted = await graphql(app.url, tenant.keys.admin, save, { input: { outboundWebhookUrl: 'http://203.0.113.10/hooks' } });
    expect(accepted.data?.updateBusinessSettings).toMatchObject({ __typename: 'BusinessSettings', outboundWebhookUrl: 'http://203.0.113.10/hooks' });
  });
});
