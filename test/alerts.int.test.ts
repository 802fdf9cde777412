import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertRows } from '../platform/store.js';
import { toClickHouseTime } from '../platform/time.js';
import { ratedChargeRow } from '../rater/index.js';
import { cloudEvent, createTenant, expectStatus } from './support/fixtures.js';
import { waitFor } from './support/process.js';
import { startSmtpCatcher, startWebhookReceiver, verifySignature, type SmtpCatcher, type WebhookReceiver } from './support/receivers.js';
import { LOOPBACK_RECEIVERS, startTestService, type TestService } from './support/service.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('alert rules and webhook endpoints', () => {
  let svc: TestService;
  let admin: string;
  let otherAdmin: string;

  beforeAll(async () => {
    svc = await startTestService({ env: LOOPBACK_RECEIVERS });
    admin = await createTenant(svc, 'rules-a');
    otherAdmin = await createTenant(svc, 'rules-b');
    const post = (path: string, body: unknown) => expectStatus(svc.request('POST', path, { key: admin, body }), 201);
    await post('/v1/meters', { key: 'calls', name: 'Calls', eventType: 'api.call', aggregation: 'COUNT' });
    await post('/v1/customers', { id: 'acme', name: 'Acme', timezone: 'UTC', currency: 'USD' });
  });
  afterAll(async () => svc.close());

  it('creates, reads, changes and deletes a rule, keeping every version with who changed it and why', async () => {
    const created = await expectStatus(
      svc.request('POST', '/v1/alert-rules', {
        key: admin,
        body: { kind: 'spend_threshold', thresholds: ['100', '500'], recurringStep: '500', channels: ['webhook'], reason: 'launch' },
      }),
      201,
    );
    const id = created.body.id as string;
    expect(created.body).toMatchObject({ version: 1, kind: 'spend_threshold', spec: { thresholds: ['100', '500'], recurringStep: '500', emailTo: ['customer', 'operations'] } });
    expect(created.body.spec.reason).toBeUndefined();
    const changed = await expectStatus(
      svc.request('PATCH', `/v1/alert-rules/${id}`, { key: admin, body: { thresholds: ['250'], recurringStep: null, reason: 'fewer mails' } }),
      200,
    );
    expect(changed.body).toMatchObject({ version: 2, spec: { thresholds: ['250'] } });
    expect(changed.body.spec.recurringStep).toBeUndefined();
    expect((await expectStatus(svc.request('GET', `/v1/alert-rules/${id}`, { key: admin }), 200)).body.version).toBe(2);
    await expectStatus(svc.request('DELETE', `/v1/alert-rules/${id}?reason=replaced`, { key: admin }), 204);
    await expectStatus(svc.request('GET', `/v1/alert-rules/${id}`, { key: admin }), 404);
    expect((await expectStatus(svc.request('GET', '/v1/alert-rules', { key: admin }), 200)).body.data).toEqual([]);
    const history = (await expectStatus(svc.request('GET', `/v1/alert-rules/${id}/history`, { key: admin }), 200)).body.data as Array<Record<string, unknown>>;
    expect(history.map((v) => [v.version, v.deleted, v.reason])).toEqual([
      [1, false, 'launch'],
      [2, false, 'fewer mails'],
      [3, true, 'replaced'],
    ]);
    expect(new Set(history.map((v) => v.updatedBy)).size).toBe(1);
    expect(history[0]?.updatedBy).toMatch(/^[0-9a-f]{24}$/);
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['an unknown kind', { kind: 'sometimes', channels: ['email'] }, 'kind'],
    ['no channel', { kind: 'spend_threshold', thresholds: ['1'], channels: [] }, 'channels'],
    ['an unknown channel', { kind: 'spend_threshold', thresholds: ['1'], channels: ['pager'] }, 'channels.0'],
    ['thresholds out of order', { kind: 'spend_threshold', thresholds: ['500', '100'], channels: ['email'] }, 'thresholds'],
    ['neither thresholds nor a step', { kind: 'spend_threshold', channels: ['email'] }, 'thresholds'],
    ['a number for an amount', { kind: 'budget', budget: 1000, channels: ['email'] }, 'budget'],
    ['a negative threshold', { kind: 'usage_threshold', meter: 'calls', thresholds: ['-1'], channels: ['email'] }, 'thresholds.0'],
    ['a charge and a meter at once', { kind: 'budget', budget: '10', chargeKey: 'a', meter: 'calls', channels: ['email'] }, 'meter'],
    ['a spike without a minimum increase', { kind: 'spike', channels: ['email'] }, 'minIncrease'],
    ['a resolve ratio above the ratio', { kind: 'spike', ratio: '2', resolveRatio: '3', minIncrease: '1', channels: ['email'] }, 'resolveRatio'],
    ['a window in seconds', { kind: 'spike', window: '30s', minIncrease: '1', channels: ['email'] }, 'window'],
    ['an unknown meter', { kind: 'usage_threshold', meter: 'nope', thresholds: ['1'], channels: ['email'] }, 'meter'],
  ])('refuses %s with a 400 naming the field', async (_, body, path) => {
    const response = await expectStatus(svc.request('POST', '/v1/alert-rules', { key: admin, body }), 400);
    expect(JSON.stringify(response.body.error)).toContain(path);
  });

  it('answers 404 for another customer or tenant and refuses a change of kind', async () => {
    await expectStatus(
      svc.request('POST', '/v1/alert-rules', { key: admin, body: { kind: 'budget', budget: '10', customerId: 'ghost', channels: ['email'] } }),
      404,
    );
    const rule = await expectStatus(
      svc.request('POST', '/v1/alert-rules', { key: admin, body: { kind: 'budget', budget: '10', customerId: 'acme', channels: ['email'] } }),
      201,
    );
    await expectStatus(svc.request('GET', `/v1/alert-rules/${rule.body.id}`, { key: otherAdmin }), 404);
    await expectStatus(svc.request('PATCH', `/v1/alert-rules/${rule.body.id}`, { key: otherAdmin, body: { budget: '1' } }), 404);
    await expectStatus(svc.request('DELETE', `/v1/alert-rules/${rule.body.id}`, { key: otherAdmin }), 404);
    const kind = await expectStatus(svc.request('PATCH', `/v1/alert-rules/${rule.body.id}`, { key: admin, body: { kind: 'forecast' } }), 400);
    expect(kind.body.error.message).toMatch(/kind of a rule cannot change/);
    await expectStatus(svc.request('PATCH', `/v1/alert-rules/${rule.body.id}`, { key: admin, body: { percentages: [80, 50] } }), 400);
    expect((await expectStatus(svc.request('GET', '/v1/alert-rules?customerId=acme', { key: admin }), 200)).body.data).toHaveLength(1);
    expect((await expectStatus(svc.request('GET', '/v1/alert-rules', { key: otherAdmin }), 200)).body.data).toEqual([]);
  });

  it('lets only admin keys manage rules and endpoints', async () => {
    const read = (await expectStatus(svc.request('POST', '/v1/api-keys', { key: admin, body: { scope: 'read' } }), 201)).body.key as string;
    const ingest = (await expectStatus(svc.request('POST', '/v1/api-keys', { key: admin, body: { scope: 'ingest' } }), 201)).body.key as string;
    for (const key of [read, ingest]) {
      await expectStatus(svc.request('POST', '/v1/alert-rules', { key, body: { kind: 'budget', budget: '1', channels: ['email'] } }), 403);
      await expectStatus(svc.request('POST', '/v1/webhook-endpoints', { key, body: { url: 'http://127.0.0.1:1/x' } }), 403);
    }
    await expectStatus(svc.request('GET', '/v1/alert-rules'), 401);
  });

  it('shows an endpoint secret once, and never in lists', async () => {
    const created = await expectStatus(
      svc.request('POST', '/v1/webhook-endpoints', { key: admin, body: { url: 'https://hooks.example.com/meterline', customerId: 'acme' } }),
      201,
    );
    expect(created.body.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const listed = await expectStatus(svc.request('GET', '/v1/webhook-endpoints', { key: admin }), 200);
    expect(listed.body.data).toEqual([expect.objectContaining({ id: created.body.id, url: 'https://hooks.example.com/meterline', disabled: false })]);
    expect(listed.text).not.toContain(created.body.secret.slice(6, 30));
    expect((await expectStatus(svc.request('GET', '/v1/webhook-endpoints', { key: otherAdmin }), 200)).body.data).toEqual([]);
    const disabled = await expectStatus(svc.request('PATCH', `/v1/webhook-endpoints/${created.body.id}`, { key: admin, body: { disabled: true } }), 200);
    expect(disabled.body).toMatchObject({ disabled: true, disabledReason: 'disabled by hand' });
    await expectStatus(svc.request('POST', '/v1/webhook-endpoints', { key: admin, body: { url: 'ftp://x.example.com' } }), 400);
    await expectStatus(svc.request('POST', '/v1/webhook-endpoints', { key: admin, body: { url: 'https://x.example.com', customerId: 'ghost' } }), 404);
    await expectStatus(svc.request('DELETE', `/v1/webhook-endpoints/${created.body.id}`, { key: otherAdmin }), 404);
    await expectStatus(svc.request('DELETE', `/v1/webhook-endpoints/${created.body.id}`, { key: admin }), 204);
    expect((await expectStatus(svc.request('GET', '/v1/webhook-endpoints', { key: admin }), 200)).body.data).toEqual([]);
  });
});

describe('spend thresholds end to end: email and signed webhooks', () => {
  let svc: TestService;
  let smtp: SmtpCatcher;
  let receiver: WebhookReceiver;
  let admin: string;
  let secret: string;

  beforeAll(async () => {
    smtp = await startSmtpCatcher();
    receiver = await startWebhookReceiver();
    svc = await startTestService({
      env: {
        ...LOOPBACK_RECEIVERS,
        METERLINE_RATER_INTERVAL: '100ms',
        METERLINE_ALERTS_INTERVAL: '200ms',
        SMTP_HOST: '127.0.0.1',
        SMTP_PORT: String(smtp.port),
        SMTP_FROM: 'Meterline Alerts <alerts@msp.test>',
        METERLINE_PUBLIC_URL: 'https://billing.msp.test',
      },
    });
    const created = await expectStatus(
      svc.request('POST', '/v1/tenants', { key: svc.operatorKey, body: { id: 'msp', name: 'MSP', operationsEmail: 'ops@msp.test' } }),
      201,
    );
    admin = created.body.adminKey.key as string;
    const post = (path: string, body: unknown) => expectStatus(svc.request('POST', path, { key: admin, body }), 201);
    await post('/v1/meters', { key: 'calls', name: 'Calls', eventType: 'api.call', aggregation: 'COUNT' });
    await post('/v1/customers', { id: 'acme', name: 'Acme & Co', timezone: 'UTC', currency: 'USD', billingContacts: ['billing@acme.test'] });
    await post('/v1/plans', {
      key: 'api',
      name: 'API',
      currency: 'USD',
      charges: [{ key: 'calls', meter: 'calls', price: { model: 'unit', unitAmount: '1.00' } }],
      effectiveFrom: '2020-01-01T00:00:00Z',
    });
    await expectStatus(svc.request('PUT', '/v1/customers/acme/contract', { key: admin, body: { plan: 'api', startsAt: '2020-01-01T00:00:00Z' } }), 200);
    secret = (await post('/v1/webhook-endpoints', { url: receiver.url, customerId: 'acme' })).body.secret as string;
    receiver.trust(secret);
    await post('/v1/alert-rules', { kind: 'spend_threshold', thresholds: ['100', '500'], recurringStep: '500', channels: ['email', 'webhook'] });
  });
  afterAll(async () => {
    await svc.close();
    await receiver.close();
    await smtp.close();
  });

  const send = (n: number) =>
    expectStatus(svc.request('POST', '/v1/events', { key: admin, body: Array.from({ length: n }, () => cloudEvent({ type: 'api.call', subject: 'acme' })) }), 202);
  const fired = () => receiver.received.map((r) => JSON.parse(r.body) as { type: string; id: string; data: Record<string, unknown> });

  it('reports each crossed threshold once, by signed webhook and by email, with the figures', async () => {
    await send(120);
    await waitFor(async () => (receiver.received.length >= 1 && smtp.messages.length >= 1 ? true : undefined), 'the first notifications', 30_000);
    const [first] = fired();
    expect(first).toMatchObject({
      type: 'alert.fired',
      version: 1,
      data: { kind: 'spend_threshold', customerId: 'acme', threshold: '100', value: '120.00', currency: 'USD', chargesUrl: 'https://billing.msp.test/v1/customers/acme/charges' },
    });
    const request = receiver.received[0];
    expect(request?.headers['webhook-id']).toBe(first?.id);
    expect(request && verifySignature(secret, request)).toBe(true);
    const mail = smtp.messages[0];
    expect(mail?.envelopeTo.sort()).toEqual(['billing@acme.test', 'ops@msp.test']);
    expect(mail?.mail.from?.text).toContain('alerts@msp.test');
    expect(mail?.mail.subject).toContain('Acme & Co');
    expect(mail?.mail.text).toContain('120.00');
    expect(mail?.mail.text).toContain('100');
    expect(mail?.mail.html).toContain('Acme &amp; Co');
    expect(mail?.mail.html).toContain('https://billing.msp.test/v1/customers/acme/charges');

    // 570: crosses 500. Then 1,570: crosses 1,000 and 1,500 at once, both reported.
    await send(450);
    await waitFor(async () => (fired().some((m) => m.data.threshold === '500') ? true : undefined), 'the 500 notification', 30_000);
    await send(1000);
    await waitFor(async () => (fired().filter((m) => m.type === 'alert.fired').length >= 4 ? true : undefined), 'the 1,000 and 1,500 notifications', 30_000);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(fired().map((m) => m.data.threshold).sort((a, b) => Number(a) - Number(b))).toEqual(['100', '500', '1000', '1500']);
    expect(new Set(fired().map((m) => m.id)).size).toBe(4);
    expect(smtp.messages).toHaveLength(4);

    const alerts = await expectStatus(svc.request('GET', '/v1/alerts?customerId=acme', { key: admin }), 200);
    expect(alerts.body.data).toHaveLength(4);
    for (const alert of alerts.body.data as Array<{ state: string; deliveries: Array<{ channel: string; status: string; attempts: number }> }>) {
      expect(alert.state).toBe('firing');
      expect(alert.deliveries.map((d) => [d.channel, d.status, d.attempts]).sort()).toEqual([
        ['email', 'succeeded', 1],
        ['webhook', 'succeeded', 1],
      ]);
    }
    expect(alerts.body.next).toBeNull();

    // Paged one at a time, newest first: the same alerts in the same order, each once, even where
    // several fired at the same instant (ties are ordered by id), then next is null.
    const paged: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = `/v1/alerts?customerId=acme&limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const page = await expectStatus(svc.request('GET', query, { key: admin }), 200);
      expect(page.body.data.length).toBeLessThanOrEqual(1);
      paged.push(...(page.body.data as Array<{ id: string }>).map((alert) => alert.id));
      cursor = page.body.next as string | null;
    } while (cursor !== null && paged.length < 10);
    expect(paged).toEqual((alerts.body.data as Array<{ id: string }>).map((alert) => alert.id));
    const refused = await expectStatus(svc.request('GET', '/v1/alerts?cursor=bm90LWEtY3Vyc29y', { key: admin }), 400);
    expect(refused.body.error.details[0].path).toBe('querystring.cursor');
  });

  it('lists alerts by state and time, and acknowledges a firing one', async () => {
    const all = (await expectStatus(svc.request('GET', '/v1/alerts', { key: admin }), 200)).body.data as Array<{ id: string; createdAt: string }>;
    const target = all[0];
    if (!target) throw new Error('no alert');
    const acked = await expectStatus(svc.request('POST', `/v1/alerts/${target.id}/ack`, { key: admin }), 200);
    expect(acked.body).toMatchObject({ id: target.id, state: 'acknowledged' });
    expect(acked.body.acknowledgedBy).toMatch(/^[0-9a-f]{24}$/);
    await expectStatus(svc.request('POST', `/v1/alerts/${target.id}/ack`, { key: admin }), 200);
    expect((await expectStatus(svc.request('GET', '/v1/alerts?state=acknowledged', { key: admin }), 200)).body.data).toHaveLength(1);
    expect((await expectStatus(svc.request('GET', '/v1/alerts?state=firing', { key: admin }), 200)).body.data).toHaveLength(3);
    expect((await expectStatus(svc.request('GET', '/v1/alerts?state=resolved', { key: admin }), 200)).body.data).toHaveLength(0);
    const future = new Date(Date.now() + HOUR).toISOString();
    expect((await expectStatus(svc.request('GET', `/v1/alerts?from=${encodeURIComponent(future)}`, { key: admin }), 200)).body.data).toHaveLength(0);
    await expectStatus(svc.request('GET', '/v1/alerts?from=yesterday', { key: admin }), 400);
    await expectStatus(svc.request('GET', '/v1/alerts?state=burning', { key: admin }), 400);
    await expectStatus(svc.request('POST', '/v1/alerts/alr_000000000000000000000000/ack', { key: admin }), 404);
    const stranger = await createTenant(svc, 'stranger');
    await expectStatus(svc.request('POST', `/v1/alerts/${target.id}/ack`, { key: stranger }), 404);
    expect((await expectStatus(svc.request('GET', '/v1/alerts', { key: stranger }), 200)).body.data).toEqual([]);
  });

  it('shows a customer-bound read key only its own alerts', async () => {
    await expectStatus(svc.request('POST', '/v1/customers', { key: admin, body: { id: 'globex', name: 'Globex', timezone: 'UTC', currency: 'USD' } }), 201);
    const globexKey = (await expectStatus(svc.request('POST', '/v1/api-keys', { key: admin, body: { scope: 'read', customerId: 'globex' } }), 201)).body.key as string;
    expect((await expectStatus(svc.request('GET', '/v1/alerts', { key: globexKey }), 200)).body.data).toEqual([]);
    await expectStatus(svc.request('GET', '/v1/alerts?customerId=acme', { key: globexKey }), 403);
    const acmeAlert = (await expectStatus(svc.request('GET', '/v1/alerts?state=firing', { key: admin }), 200)).body.data[0] as { id: string };
    await expectStatus(svc.request('POST', `/v1/alerts/${acmeAlert.id}/ack`, { key: globexKey }), 403);
  });

  it('shows a customer-bound read key that its alerts were delivered, not where to nor why a delivery failed', async () => {
    const acmeKey = (await expectStatus(svc.request('POST', '/v1/api-keys', { key: admin, body: { scope: 'read', customerId: 'acme' } }), 201)).body.key as string;
    type Shown = { id: string; deliveries: Array<Record<string, unknown>> };
    const byAdmin = (await expectStatus(svc.request('GET', '/v1/alerts?customerId=acme', { key: admin }), 200)).body.data as Shown[];
    const byPortal = (await expectStatus(svc.request('GET', '/v1/alerts', { key: acmeKey }), 200)).body.data as Shown[];
    expect(byPortal.map((alert) => alert.id)).toEqual(byAdmin.map((alert) => alert.id));
    const adminDeliveries = byAdmin.flatMap((alert) => alert.deliveries);
    expect(adminDeliveries.some((delivery) => typeof delivery.target === 'string' && String(delivery.target).startsWith('we_'))).toBe(true);
    const portalDeliveries = byPortal.flatMap((alert) => alert.deliveries);
    expect(portalDeliveries).toHaveLength(adminDeliveries.length);
    for (const delivery of portalDeliveries) {
      expect(Object.keys(delivery)).not.toContain('target');
      expect(Object.keys(delivery)).not.toContain('lastError');
      expect(delivery).toMatchObject({ channel: expect.any(String), status: expect.any(String) });
    }
    const firing = byPortal.find((alert) => alert.deliveries.length > 0);
    if (!firing) throw new Error('no alert with deliveries');
    const acked = await svc.request('POST', `/v1/alerts/${firing.id}/ack`, { key: acmeKey });
    expect([200, 409]).toContain(acked.status);
    if (acked.status === 200) expect(JSON.stringify(acked.body)).not.toMatch(/"target"|we_/);
  });
});

/** The period of every customer here started at least 9 days ago, so a week of history sits inside it. */
function anchorDayForAWeekOfHistory(now: number): number {
  return Math.min(28, new Date(now - 9 * DAY).getUTCDate());
}

describe('cost spikes on a week of history', () => {
  let svc: TestService;
  let receiver: WebhookReceiver;
  let admin: string;
  const env = { ...LOOPBACK_RECEIVERS, METERLINE_RATER_INTERVAL: '100ms', METERLINE_ALERTS_INTERVAL: '200ms' };

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    svc = await startTestService({ env });
    admin = await createTenant(svc, 'spiky');
    const post = (path: string, body: unknown) => expectStatus(svc.request('POST', path, { key: admin, body }), 201);
    await post('/v1/meters', { key: 'calls', name: 'Calls', eventType: 'api.call', aggregation: 'SUM', valueProperty: '$.calls', groupBy: { region: '$.region' } });
    await post('/v1/plans', {
      key: 'api',
      name: 'API',
      currency: 'EUR',
      charges: [{ key: 'calls', meter: 'calls', price: { model: 'unit', unitAmount: '0.01' } }],
      effectiveFrom: '2020-01-01T00:00:00Z',
    });
    const anchor = anchorDayForAWeekOfHistory(Date.now());
    for (const id of ['alpha', 'beta', 'gamma']) {
      await post('/v1/customers', { id, name: id, timezone: 'UTC', currency: 'EUR', billingAnchorDay: anchor });
      await expectStatus(svc.request('PUT', `/v1/customers/${id}/contract`, { key: admin, body: { plan: 'api', startsAt: '2020-01-01T00:00:00Z' } }), 200);
    }
    receiver.trust((await post('/v1/webhook-endpoints', { url: receiver.url })).body.secret as string);
    await post('/v1/alert-rules', { kind: 'spike', window: '1h', baselineDays: 7, ratio: '3', resolveRatio: '1.5', minIncrease: '2', channels: ['webhook'] });
  });
  afterAll(async () => {
    await svc.close();
    await receiver.close();
  });

  const latestRated = async (customer: string) =>
    ((await expectStatus(svc.request('GET', `/v1/customers/${customer}/charges/history`, { key: admin }), 200)).body.data[0] as { ratedAt: string; total: string } | undefined);

  it('fires exactly one spike for the customer whose cost jumped fivefold, none for the steady ones, and none again after a restart', async () => {
    // A steady week: 100 calls (1.00 EUR) in every hour, for three customers.
    const now = Date.now();
    const events = ['alpha', 'beta', 'gamma'].flatMap((subject) =>
      Array.from({ length: 24 * 7 + 1 }, (_, hour) =>
        cloudEvent({ type: 'api.call', subject, time: new Date(now - 30 * 60_000 - hour * HOUR).toISOString(), data: { calls: 100, region: 'eu' } }),
      ),
    );
    await expectStatus(svc.request('POST', '/v1/events', { key: admin, body: events }), 202);
    for (const customer of ['alpha', 'beta', 'gamma']) {
      await waitFor(async () => ((await latestRated(customer))?.total === '169.00' ? true : undefined), `the steady rating of ${customer}`, 30_000);
    }
    await svc.service.alerts?.engine.runOnce();
    expect((await expectStatus(svc.request('GET', '/v1/alerts', { key: admin }), 200)).body.data).toEqual([]);

    // Alpha's last hour goes from 1.00 to 5.00 EUR, mostly in a new region.
    await expectStatus(
      svc.request('POST', '/v1/events', {
        key: admin,
        body: [cloudEvent({ type: 'api.call', subject: 'alpha', time: new Date(Date.now() - 5 * 60_000).toISOString(), data: { calls: 400, region: 'us' } })],
      }),
      202,
    );
    await waitFor(async () => (receiver.received.length > 0 ? true : undefined), 'the spike notification', 30_000);
    const message = JSON.parse(receiver.received[0]?.body ?? '{}') as { type: string; data: Record<string, unknown> };
    expect(message).toMatchObject({ type: 'alert.fired', data: { kind: 'spike', customerId: 'alpha', value: '5', baseline: '1', ratio: '5', currency: 'EUR' } });
    expect(message.data.drivers).toMatchObject({ charges: [{ key: 'calls', current: '5', baseline: '1', increase: '4' }] });
    expect(message.data.drivers).toMatchObject({ dimensions: [{ key: 'calls region=us', increase: '4' }] });

    const alerts = (await expectStatus(svc.request('GET', '/v1/alerts', { key: admin }), 200)).body.data as Array<{ customerId: string; kind: string; state: string }>;
    expect(alerts.map((a) => [a.customerId, a.kind, a.state])).toEqual([['alpha', 'spike', 'firing']]);

    // Restart while the alert fires; more usage keeps it firing and sends nothing new.
    const database = svc.database;
    await svc.close();
    svc = await startTestService({ database, env });
    const before = (await latestRated('alpha'))?.ratedAt ?? '';
    await expectStatus(
      svc.request('POST', '/v1/events', {
        key: admin,
        body: [cloudEvent({ type: 'api.call', subject: 'alpha', time: new Date(Date.now() - 60_000).toISOString(), data: { calls: 50, region: 'us' } })],
      }),
      202,
    );
    await waitFor(async () => (((await latestRated('alpha'))?.ratedAt ?? '') > before ? true : undefined), 'the rating after the restart', 30_000);
    await svc.service.alerts?.engine.runOnce();
    await svc.service.alerts?.outbox.runOnce();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(receiver.received).toHaveLength(1);
    const after = (await expectStatus(svc.request('GET', '/v1/alerts', { key: admin }), 200)).body.data as Array<{ kind: string; deliveries: Array<{ status: string }> }>;
    expect(after).toHaveLength(1);
    expect(after[0]?.deliveries.map((d) => d.status)).toEqual(['succeeded']);
  });
});

describe('usage thresholds, spend of one meter, and a forecast that rises and falls back', () => {
  let svc: TestService;
  let receiver: WebhookReceiver;
  let admin: string;
  type Message = { type: string; data: Record<string, unknown> };
  const messages = () => receiver.received.map((r) => JSON.parse(r.body) as Message);

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    svc = await startTestService({ env: { ...LOOPBACK_RECEIVERS, METERLINE_RATER_INTERVAL: '100ms', METERLINE_ALERTS_INTERVAL: '200ms' } });
    admin = await createTenant(svc, 'kinds');
    const post = (path: string, body: unknown) => expectStatus(svc.request('POST', path, { key: admin, body }), 201);
    await post('/v1/meters', { key: 'calls', name: 'Calls', eventType: 'api.call', aggregation: 'COUNT' });
    await post('/v1/meters', { key: 'storage', name: 'Storage', eventType: 'storage.used', aggregation: 'SUM', valueProperty: '$.gb' });
    await post('/v1/plans', {
      key: 'mix',
      name: 'Mix',
      currency: 'USD',
      charges: [
        { key: 'calls', meter: 'calls', price: { model: 'unit', unitAmount: '1.00' } },
        { key: 'storage', meter: 'storage', price: { model: 'unit', unitAmount: '0.10' } },
      ],
      effectiveFrom: '2020-01-01T00:00:00Z',
    });
    // At least 9 days of the period have passed, so the run rate projects at least 2.5× the spend so far.
    await post('/v1/customers', { id: 'initech', name: 'Initech', timezone: 'UTC', currency: 'USD', billingAnchorDay: anchorDayForAWeekOfHistory(Date.now()) });
    await expectStatus(svc.request('PUT', '/v1/customers/initech/contract', { key: admin, body: { plan: 'mix', startsAt: '2020-01-01T00:00:00Z' } }), 200);
    receiver.trust((await post('/v1/webhook-endpoints', { url: receiver.url })).body.secret as string);
    await post('/v1/alert-rules', { kind: 'usage_threshold', meter: 'calls', thresholds: ['50'], channels: ['webhook'] });
    await post('/v1/alert-rules', { kind: 'spend_threshold', meter: 'storage', thresholds: ['5'], channels: ['webhook'] });
  });
  afterAll(async () => {
    await svc.close();
    await receiver.close();
  });

  const send = (events: Array<Record<string, unknown>>) => expectStatus(svc.request('POST', '/v1/events', { key: admin, body: events }), 202);
  const calls = (n: number) => Array.from({ length: n }, () => cloudEvent({ type: 'api.call', subject: 'initech' }));

  it('measures a meter’s quantity and the charges of one meter, each against its own thresholds', async () => {
    await send([...calls(60), cloudEvent({ type: 'storage.used', subject: 'initech', data: { gb: '100' } })]);
    await waitFor(async () => (messages().length >= 2 ? true : undefined), 'two notifications', 30_000);
    const byKind = new Map(messages().map((m) => [m.data.kind, m.data]));
    expect(byKind.get('usage_threshold')).toMatchObject({ threshold: '50', value: '60' });
    expect(byKind.get('spend_threshold')).toMatchObject({ threshold: '5', value: '10.00', currency: 'USD' });
  });

  it('fires a forecast over budget once, announces when it falls back under, and fires again on a new rise', async () => {
    const rule = await expectStatus(svc.request('POST', '/v1/alert-rules', { key: admin, body: { kind: 'forecast', budget: '150', channels: ['webhook'] } }), 201);
    const forecasts = () => messages().filter((m) => m.data.kind === 'forecast');
    await send(calls(1));
    await waitFor(async () => (forecasts().length >= 1 ? true : undefined), 'the forecast alert', 30_000);
    const fired = forecasts()[0];
    expect(fired).toMatchObject({ type: 'alert.fired', data: { budget: '150' } });
    expect(Number(fired?.data.forecast)).toBeGreaterThan(150);
    await send(calls(1));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(forecasts()).toHaveLength(1);

    await expectStatus(svc.request('PATCH', `/v1/alert-rules/${rule.body.id}`, { key: admin, body: { budget: '100000', reason: 'bigger budget' } }), 200);
    await send(calls(1));
    await waitFor(async () => (forecasts().length >= 2 ? true : undefined), 'the resolution', 30_000);
    expect(forecasts()[1]).toMatchObject({ type: 'alert.resolved', data: { alertId: fired?.data.alertId } });
    const resolved = await expectStatus(svc.request('GET', '/v1/alerts?state=resolved', { key: admin }), 200);
    expect(resolved.body.data).toEqual([expect.objectContaining({ kind: 'forecast', resolution: 'the forecast fell back under the budget' })]);

    await expectStatus(svc.request('PATCH', `/v1/alert-rules/${rule.body.id}`, { key: admin, body: { budget: '150' } }), 200);
    await send(calls(1));
    await waitFor(async () => (forecasts().length >= 3 ? true : undefined), 'the second rise', 30_000);
    expect(forecasts()[2]).toMatchObject({ type: 'alert.fired' });
    expect(forecasts()[2]?.data.alertId).not.toBe(fired?.data.alertId);
  });
});

describe('a stored figure that does not read back', () => {
  let svc: TestService;
  let receiver: WebhookReceiver;
  let admin: string;

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    svc = await startTestService({ env: { ...LOOPBACK_RECEIVERS, METERLINE_RATER_INTERVAL: '100ms', METERLINE_ALERTS_INTERVAL: '200ms' } });
    admin = await createTenant(svc, 'msp');
    const post = (path: string, body: unknown) => expectStatus(svc.request('POST', path, { key: admin, body }), 201);
    await post('/v1/meters', { key: 'calls', name: 'Calls', eventType: 'api.call', aggregation: 'COUNT' });
    await post('/v1/plans', {
      key: 'api',
      name: 'API',
      currency: 'USD',
      charges: [{ key: 'calls', meter: 'calls', price: { model: 'unit', unitAmount: '1.00' } }],
      effectiveFrom: '2020-01-01T00:00:00Z',
    });
    for (const id of ['acme', 'beta']) {
      await post('/v1/customers', { id, name: id, timezone: 'UTC', currency: 'USD' });
      await expectStatus(svc.request('PUT', `/v1/customers/${id}/contract`, { key: admin, body: { plan: 'api', startsAt: '2020-01-01T00:00:00Z' } }), 200);
    }
    receiver.trust((await post('/v1/webhook-endpoints', { url: receiver.url })).body.secret as string);
    await post('/v1/alert-rules', { kind: 'spend_threshold', thresholds: ['100'], channels: ['webhook'] });
  });
  afterAll(async () => {
    await svc.close();
    await receiver.close();
  });

  it("fails only its own customer's rules: the tenant's other customers are alerted all the same", async () => {
    // The contract change rates acme once; a torn statement is then its latest figure.
    await waitFor(async () => {
      const history = await expectStatus(svc.request('GET', '/v1/customers/acme/charges/history', { key: admin }), 200);
      return history.body.data.length > 0 ? true : undefined;
    }, 'the first figure of acme', 30_000);
    const failuresBefore = (await svc.service.metrics.alertEvaluationFailures.get()).values[0]?.value ?? 0;
    await insertRows(svc.service.store, 'rated_charges', ratedChargeRow, [
      {
        tenant_id: 'msp',
        customer_id: 'acme',
        period_start: toClickHouseTime(new Date(Date.now() - HOUR)),
        period_end: toClickHouseTime(new Date(Date.now() + DAY)),
        rated_at: toClickHouseTime(new Date()),
        currency: 'USD',
        subtotal: '0',
        tax: '0',
        total: '0',
        statement: '{"customerId":"acme","lines":[{"charge":"calls",',
      },
    ]);
    await waitFor(async () => {
      const failures = (await svc.service.metrics.alertEvaluationFailures.get()).values[0]?.value ?? 0;
      return failures > failuresBefore ? true : undefined;
    }, 'the unreadable figure counted as a failed evaluation', 30_000);

    await expectStatus(
      svc.request('POST', '/v1/events', { key: admin, body: Array.from({ length: 120 }, () => cloudEvent({ type: 'api.call', subject: 'beta' })) }),
      202,
    );
    await waitFor(async () => (receiver.received.length >= 1 ? true : undefined), 'the alert of beta', 30_000);
    const fired = receiver.received.map((r) => JSON.parse(r.body) as { type: string; data: Record<string, unknown> });
    expect(fired).toEqual([expect.objectContaining({ type: 'alert.fired', data: expect.objectContaining({ customerId: 'beta', threshold: '100', value: '120.00' }) })]);
    expect((await expectStatus(svc.request('GET', '/v1/alerts?customerId=acme', { key: admin }), 200)).body.data).toEqual([]);
  });
});
