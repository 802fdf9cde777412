import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { roundToMinorUnit } from '../rater/index.js';
import { failingQueries } from './support/failing-queries.js';
import { cloudEvent, createTenant, expectStatus } from './support/fixtures.js';
import { waitFor } from './support/process.js';
import { startWebhookReceiver, type WebhookReceiver } from './support/receivers.js';
import { LOOPBACK_RECEIVERS, startTestService, type TestService } from './support/service.js';

// Half a minute into a minute: a plan posted now gets, by default, the next whole minute.
const NOW = Date.parse('2026-11-20T12:00:30Z');

/** Usage inside a period is priced or shown as unpriced; never a silent zero. */
describe('usage is never silently unbilled', () => {
  let svc: TestService;
  let key: string;
  const post = (path: string, body: unknown, status = 201) => expectStatus(svc.request('POST', path, { key, body }), status);
  const contract = (customer: string, body: unknown) => expectStatus(svc.request('PUT', `/v1/customers/${customer}/contract`, { key, body }), 200);
  const charges = async (customer: string) => (await expectStatus(svc.request('GET', `/v1/customers/${customer}/charges`, { key }), 200)).body;

  beforeAll(async () => {
    svc = await startTestService({ now: () => NOW });
    key = svc.operatorKey;
    await post('/v1/meters', { key: 'calls', name: 'Calls', eventType: 'api.call', aggregation: 'SUM', valueProperty: '$.n' });
    await post('/v1/meters', { key: 'gb', name: 'Backup GB', eventType: 'backup', aggregation: 'SUM', valueProperty: '$.gb' });
    await post('/v1/meters', { key: 'seats', name: 'Seats', eventType: 'seats', aggregation: 'MAX', valueProperty: '$.seats' });
  });
  afterAll(async () => svc.close());

  it('prices usage metered before the first version of a plan was posted (that version has no start)', async () => {
    await post('/v1/customers', { id: 'acme', name: 'Acme', timezone: 'UTC', currency: 'USD' });
    // Metered at 12:00:10, before the plan below exists; its version 1 is recorded as of 12:01.
    await post('/v1/events', [cloudEvent({ type: 'api.call', subject: 'acme', time: '2026-11-20T12:00:10Z', data: { n: 8 } })], 202);
    const plan = await post('/v1/plans', { key: 'api', name: 'API', currency: 'USD', charges: [{ key: 'calls', meter: 'calls', price: { model: 'unit', unitAmount: '0.50' } }] });
    expect(plan.body.effectiveFrom).toBe('2026-11-20T12:01:00.000Z');
    await contract('acme', { plan: 'api', startsAt: '2026-11-01T00:00:00Z' });

    const usage = (await expectStatus(svc.request('GET', '/v1/customers/acme/usage', { key }), 200)).body;
    expect(usage.meters.find((meter: { key: string }) => meter.key === 'calls')?.value).toBe('8');
    const body = await charges('acme');
    expect(body.lines).toEqual([expect.objectContaining({ charge: 'calls', quantity: '8', amount: '4.00' })]);
    expect(body.lines[0].parts.map((part: { from: string; priceVersion: number }) => [part.from, part.priceVersion])).toEqual([['2026-11-01T00:00:00.000Z', 1]]);
    expect(body).toMatchObject({ subtotal: '4.00', total: '4.00', unpriced: [], contract: { version: 1, plan: 'api', startsAt: '2026-11-01T00:00:00Z' } });
  });

  it('gives the forecast rounded to the minor unit and precisely', async () => {
    const { forecast } = await charges('acme');
    // 4.00 over the 1,684,830 s elapsed of a 2,592,000 s period: 4 × 2592000 / 1684830 = 6.1537365788…
    expect(forecast).toEqual({ subtotal: '6.15', preciseSubtotal: '6.153736579', method: 'run rate since the period started' });
    expect(roundToMinorUnit(forecast.preciseSubtotal, 'USD')).toBe(forecast.subtotal);
  });

  it('lists, per meter and span, the usage no charge prices: before the contract, before a later version adds its charge, and a meter no plan prices', async () => {
    await post('/v1/customers', { id: 'globex', name: 'Globex', timezone: 'UTC', currency: 'USD' });
    const calls = { key: 'calls', meter: 'calls', price: { model: 'unit', unitAmount: '0.50' } };
    await post('/v1/plans', { key: 'backup', name: 'Backup', currency: 'USD', charges: [calls] });
    // Version 2 adds storage from the 16th: usage of gb before then is priced by nothing.
    await post('/v1/plans', {
      key: 'backup',
      name: 'Backup',
      currency: 'USD',
      charges: [calls, { key: 'storage', meter: 'gb', price: { model: 'unit', unitAmount: '0.10' } }],
      effectiveFrom: '2026-11-16T00:00:00Z',
    });
    await contract('globex', { plan: 'backup', startsAt: '2026-11-05T00:00:00Z' });
    const event = (type: string, time: string, data: Record<string, unknown>) => cloudEvent({ type, subject: 'globex', time, data });
    await post(
      '/v1/events',
      [
        event('api.call', '2026-11-02T09:00:00Z', { n: 4 }),
        event('api.call', '2026-11-12T09:00:00Z', { n: 6 }),
        event('backup', '2026-11-03T09:00:00Z', { gb: '10' }),
        event('backup', '2026-11-07T09:00:00Z', { gb: '20' }),
        event('backup', '2026-11-18T09:00:00Z', { gb: '30' }),
        event('seats', '2026-11-10T09:00:00Z', { seats: 5 }),
      ],
      202,
    );
    const body = await charges('globex');
    expect(body.lines.map((line: { charge: string; quantity: string; amount: string }) => [line.charge, line.quantity, line.amount])).toEqual([
      ['calls', '6', '3.00'],
      ['storage', '30', '3.00'],
    ]);
    expect(body.unpriced).toEqual([
      { meter: 'calls', from: '2026-11-01T00:00:00.000Z', to: '2026-11-05T00:00:00.000Z', quantity: '4', reason: 'no_contract' },
      { meter: 'gb', from: '2026-11-01T00:00:00.000Z', to: '2026-11-05T00:00:00.000Z', quantity: '10', reason: 'no_contract' },
      { meter: 'gb', from: '2026-11-05T00:00:00.000Z', to: '2026-11-16T00:00:00.000Z', quantity: '20', reason: 'no_price' },
      { meter: 'seats', from: '2026-11-05T00:00:00.000Z', to: '2026-12-01T00:00:00.000Z', quantity: '5', reason: 'no_price' },
    ]);
  });

  it('answers a customer without a contract with no lines and all its usage unpriced, not a 404', async () => {
    await post('/v1/customers', { id: 'bare', name: 'Bare', timezone: 'UTC', currency: 'EUR' });
    await post('/v1/events', [1, 2].map((n) => cloudEvent({ type: 'api.call', subject: 'bare', time: '2026-11-19T10:00:00Z', data: { n } })), 202);
    const body = await charges('bare');
    expect(body).toMatchObject({
      customerId: 'bare',
      currency: 'EUR',
      contract: null,
      plan: null,
      contractVersion: null,
      lines: [],
      subtotal: '0.00',
      total: '0.00',
      unpriced: [{ meter: 'calls', from: '2026-11-01T00:00:00.000Z', to: '2026-12-01T00:00:00.000Z', quantity: '3', reason: 'no_contract' }],
    });
    const invoice = (await expectStatus(svc.request('GET', '/v1/customers/bare/invoice-preview', { key }), 200)).body;
    expect(invoice).toMatchObject({ lines: [], total: '0.00', unpriced: body.unpriced });
    // An unknown customer is still a 404.
    await expectStatus(svc.request('GET', '/v1/customers/nobody/charges', { key }), 404);
  });
});

/** Alert rules measure something real, and a failed evaluation is not forgotten. */
describe('alert rules that cannot silently measure nothing', () => {
  let svc: TestService;
  let receiver: WebhookReceiver;
  let admin: string;
  let faults: ReturnType<typeof failingQueries>;
  type Message = { type: string; data: Record<string, unknown> };
  const messages = () => receiver.received.map((r) => JSON.parse(r.body) as Message);
  const post = (path: string, body: unknown, status = 201) => expectStatus(svc.request('POST', path, { key: admin, body }), status);
  const calls = (subject: string, n: number) => Array.from({ length: n }, () => cloudEvent({ type: 'api.call', subject }));

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    svc = await startTestService({
      env: { ...LOOPBACK_RECEIVERS, METERLINE_RATER_INTERVAL: '100ms', METERLINE_ALERTS_INTERVAL: '200ms' },
      wrapStore: (store) => {
        faults = failingQueries(store);
        return faults.store;
      },
    });
    admin = await createTenant(svc, 'unbilled-alerts');
    await post('/v1/meters', { key: 'calls', name: 'Calls', eventType: 'api.call', aggregation: 'COUNT' });
    await post('/v1/plans', { key: 'api', name: 'API', currency: 'USD', charges: [{ key: 'requests', meter: 'calls', price: { model: 'unit', unitAmount: '1' } }] });
    for (const id of ['priced', 'solo', 'flaky']) await post('/v1/customers', { id, name: id, timezone: 'UTC', currency: 'USD' });
    await expectStatus(svc.request('PUT', '/v1/customers/priced/contract', { key: admin, body: { plan: 'api', startsAt: '2020-01-01T00:00:00Z' } }), 200);
    await expectStatus(svc.request('PUT', '/v1/customers/flaky/contract', { key: admin, body: { plan: 'api', startsAt: '2020-01-01T00:00:00Z' } }), 200);
    await post('/v1/webhook-endpoints', { url: receiver.url });
  });
  afterAll(async () => {
    await svc.close();
    await receiver.close();
  });

  it('refuses a rule on a charge key that no plan has, naming the field', async () => {
    for (const body of [
      { kind: 'spend_threshold', chargeKey: 'nope', thresholds: ['10'], channels: ['webhook'] },
      { kind: 'budget', chargeKey: 'nope', budget: '100', channels: ['webhook'] },
    ]) {
      const refused = await post('/v1/alert-rules', body, 400);
      expect(refused.body.error.details[0]).toMatchObject({ path: 'chargeKey', message: 'no plan has a charge nope' });
    }
    const rule = await post('/v1/alert-rules', { kind: 'spend_threshold', customerId: 'priced', chargeKey: 'requests', thresholds: ['1000'], channels: ['webhook'] });
    const patched = await expectStatus(svc.request('PATCH', `/v1/alert-rules/${rule.body.id}`, { key: admin, body: { chargeKey: 'nope' } }), 400);
    expect(patched.body.error.details[0].path).toBe('chargeKey');
  });

  it('fires a usage threshold for a customer without a contract', async () => {
    await post('/v1/alert-rules', { kind: 'usage_threshold', customerId: 'solo', meter: 'calls', thresholds: ['5'], channels: ['webhook'] });
    await post('/v1/events', calls('solo', 8), 202);
    const fired = await waitFor(async () => messages().find((m) => m.data.customerId === 'solo'), 'the usage alert of solo', 30_000);
    expect(fired).toMatchObject({ type: 'alert.fired', data: { kind: 'usage_threshold', threshold: '5', value: '8' } });
  });

  it('evaluates a rule again after its evaluation failed, without waiting for new events', async () => {
    await post('/v1/alert-rules', { kind: 'usage_threshold', customerId: 'flaky', meter: 'calls', thresholds: ['5'], channels: ['webhook'] });
    // The usage query of flaky's rule fails (the rater's grouped queries split by subject and are not hit)
    // until the rater has settled on its last figure of these events and the rule failed on it.
    const outage = faults.failNext((sql, params) => /GROUP BY meter_key\s/.test(sql) && Array.isArray(params.subjects) && params.subjects.includes('flaky'));
    await post('/v1/events', calls('flaky', 8), 202);
    const posted = Date.now();
    await waitFor(
      async () => {
        const history = await expectStatus(svc.request('GET', '/v1/customers/flaky/charges/history', { key: admin }), 200);
        const last = Date.parse((history.body.data[0] as { ratedAt: string } | undefined)?.ratedAt ?? '');
        // The rater re-rates every 100 ms until a rating began well after the newest event, then stops.
        return last > posted && Date.now() - last > 11_000 && faults.lastFailedAt > last ? true : undefined;
      },
      'the rule failing on the settled figure',
      45_000,
    );
    // Another customer's new figure moves the alerts watermark more than its 10 s look-back past
    // flaky's figure: from then on only a retry of the failed rule can still fire it.
    await post('/v1/alert-rules', { kind: 'usage_threshold', customerId: 'priced', meter: 'calls', thresholds: ['1'], channels: ['webhook'] });
    await post('/v1/events', calls('priced', 1), 202);
    await waitFor(async () => messages().find((m) => m.data.customerId === 'priced' && m.data.kind === 'usage_threshold'), 'the usage alert of priced', 30_000);
    outage.stop();
    expect(messages().find((m) => m.data.customerId === 'flaky')).toBeUndefined();
    const fired = await waitFor(async () => messages().find((m) => m.data.customerId === 'flaky'), 'the usage alert of flaky', 15_000);
    expect(fired).toMatchObject({ type: 'alert.fired', data: { kind: 'usage_threshold', threshold: '5', value: '8' } });
    const metrics = (await svc.request('GET', '/metrics')).text;
    expect(Number(/^meterline_alerts_evaluation_failures_total (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
  });
});
