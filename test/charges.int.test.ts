import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCatalog } from '../catalog/index.js';
import { createLogger } from '../platform/logger.js';
import { buildCharges, buildPlansContracts } from '../rater/index.js';
import { cloudEvent, expectStatus } from './support/fixtures.js';
import { startTestService, type TestService } from './support/service.js';

const NOW = Date.parse('2026-11-30T23:00:00Z');

/**
 * A month of usage for one customer, priced through the API and checked against a statement
 * worked out by hand: a price change on the 16th, devices rising from 10 to 20 on the 10th
 * (billed daily), a 10 % storage discount for the first week, a commitment true-up, two taxes.
 */
describe('charges', () => {
  let svc: TestService;
  let key: string;

  beforeAll(async () => {
    svc = await startTestService({ now: () => NOW });
    key = svc.operatorKey;
    const post = (path: string, body: unknown, status = 201) => expectStatus(svc.request('POST', path, { key, body }), status);
    await post('/v1/meters', { key: 'devices', name: 'Managed devices', eventType: 'inventory', aggregation: 'LATEST', valueProperty: '$.devices' });
    await post('/v1/meters', { key: 'gb', name: 'Backup GB', eventType: 'backup', aggregation: 'SUM', valueProperty: '$.gb' });
    await post('/v1/customers', { id: 'acme', name: 'Acme', timezone: 'UTC', currency: 'USD' });
    const charges = (deviceRate: string) => [
      { key: 'devices', meter: 'devices', price: { model: 'unit', unitAmount: deviceRate }, category: 'Endpoints', proration: 'daily' },
      { key: 'storage', meter: 'gb', price: { model: 'unit', unitAmount: '0.10' }, category: 'Backup' },
      { key: 'platform', price: { model: 'flat', amount: '50' }, category: 'Platform' },
    ];
    await post('/v1/plans', { key: 'msp', name: 'MSP', currency: 'USD', charges: charges('4.00'), effectiveFrom: '2026-10-01T00:00:00Z' });
    await post('/v1/plans', { key: 'msp', name: 'MSP', currency: 'USD', charges: charges('5.00'), effectiveFrom: '2026-11-16T00:00:00Z' });
    await expectStatus(
      svc.request('PUT', '/v1/customers/acme/contract', {
        key,
        body: {
          plan: 'msp',
          startsAt: '2026-11-01T00:00:00Z',
          discounts: [{ chargeKey: 'storage', percent: '10', validFrom: '2026-11-01T00:00:00Z', validTo: '2026-11-08T00:00:00Z' }],
          minimumCommitment: '400',
          taxRates: [
            { name: 'State', percent: '6' },
            { name: 'County', percent: '1.5' },
          ],
          reason: 'order form 7',
        },
      }),
      200,
    );
    const events = [];
    for (let day = 1; day <= 30; day++) {
      const date = `2026-11-${String(day).padStart(2, '0')}`;
      events.push(cloudEvent({ type: 'inventory', subject: 'acme', time: `${date}T12:00:00Z`, data: { devices: day < 10 ? 10 : 20 } }));
    }
    events.push(cloudEvent({ type: 'backup', subject: 'acme', time: '2026-11-03T08:00:00Z', data: { gb: '100' } }));
    events.push(cloudEvent({ type: 'backup', subject: 'acme', time: '2026-11-10T08:00:00Z', data: { gb: '300' } }));
    events.push(cloudEvent({ type: 'backup', subject: 'acme', time: '2026-11-20T08:00:00Z', data: { gb: '100' } }));
    await post('/v1/events', events, 202);
  });
  afterAll(async () => svc.close());

  it('matches the hand-computed statement line by line', async () => {
    const response = await expectStatus(svc.request('GET', '/v1/customers/acme/charges', { key }), 200);
    const body = response.body;
    expect(body).toMatchObject({
      customerId: 'acme',
      periodStart: '2026-11-01T00:00:00.000Z',
      periodEnd: '2026-12-01T00:00:00.000Z',
      currency: 'USD',
      plan: 'msp',
      contractVersion: 1,
    });
    interface Line {
      charge: string;
      parts: Array<{ priceVersion: number; quantity: string; amount: string }>;
      taxes: Array<{ amount: string }>;
    }
    const byCharge = new Map((body.lines as Line[]).map((line) => [line.charge, line]));
    const line = (charge: string): Line => {
      const found = byCharge.get(charge);
      if (!found) throw new Error(`no line for ${charge}`);
      return found;
    };
    const lines = {
      devices: line('devices'),
      storage: line('storage'),
      platform: line('platform'),
      'minimum-commitment': line('minimum-commitment'),
    };

    // Devices, billed on the average of daily maxima over the 30 days:
    //   1st–15th at v1 (4.00): 9 days × 10 + 6 days × 20 = 210 → 210 / 30 = 7 → 28.00
    //   16th–30th at v2 (5.00): 15 days × 20 = 300 → 300 / 30 = 10 → 50.00
    expect(lines.devices).toMatchObject({ grossAmount: '78', discount: '0', amount: '78.00' });
    expect(lines.devices.parts.map((p) => [p.priceVersion, p.quantity, p.amount])).toEqual([
      [1, '7', '28'],
      [2, '10', '50'],
    ]);
    // Storage: 400 GB before the 16th, 100 GB after, at 0.10 → 50.00; the discount covers the
    // first week, which holds 100 of the 500 GB: 10 % × 50 × 0.2 = 1.00.
    expect(lines.storage).toMatchObject({ grossAmount: '50', discount: '1', amount: '49.00' });
    // Platform: a flat 50, half the period at each version.
    expect(lines.platform.parts.map((p) => [p.quantity, p.amount])).toEqual([
      ['0.5', '25'],
      ['0.5', '25'],
    ]);
    expect(lines.platform).toMatchObject({ amount: '50.00' });
    // Commitment: 400 − (78 + 49 + 50) = 223.
    expect(lines['minimum-commitment']).toMatchObject({ amount: '223.00' });
    // Taxes, each rounded once: 6 % and 1.5 % of every line.
    expect(lines.devices.taxes.map((t) => t.amount)).toEqual(['4.68', '1.17']);
    expect(lines.storage.taxes.map((t) => t.amount)).toEqual(['2.94', '0.74']);
    expect(lines.platform.taxes.map((t) => t.amount)).toEqual(['3.00', '0.75']);
    expect(lines['minimum-commitment'].taxes.map((t) => t.amount)).toEqual(['13.38', '3.35']);
    expect(body).toMatchObject({ subtotal: '400.00', tax: '30.01', total: '430.01' });
    expect(body.forecast.subtotal).toMatch(/^\d+\.\d{2}$/);
    expect(body.forecast.preciseSubtotal).toBeDefined();
    expect(body.unpriced).toEqual([]);
  });

  it('shapes the same figures as an invoice', async () => {
    const invoice = await expectStatus(svc.request('GET', '/v1/customers/acme/invoice-preview', { key }), 200);
    expect(invoice.body.lines.map((line: { description: string; amount: string; tax: string }) => [line.description, line.amount, line.tax])).toEqual([
      ['Endpoints: devices', '78.00', '5.85'],
      ['Backup: storage', '49.00', '3.68'],
      ['Platform: platform', '50.00', '3.75'],
      ['Commitment: minimum-commitment', '223.00', '16.73'],
    ]);
    expect(invoice.body.total).toBe('430.01');
  });

  it('prices many customers in bulk exactly as one at a time', async () => {
    // A second customer with several subjects, so the bulk path must combine subjects per meter.
    await expectStatus(
      svc.request('POST', '/v1/customers', { key, body: { id: 'multi', name: 'Multi', timezone: 'Asia/Kolkata', currency: 'USD', subjects: ['m1', 'm2', 'm3'] } }),
      201,
    );
    await expectStatus(svc.request('PUT', '/v1/customers/multi/contract', { key, body: { plan: 'msp', startsAt: '2026-11-05T10:30:00Z' } }), 200);
    const events = ['m1', 'm2', 'm3'].flatMap((subject, i) => [
      cloudEvent({ type: 'inventory', subject, time: `2026-11-1${i}T06:00:00Z`, data: { devices: 3 + i } }),
      cloudEvent({ type: 'inventory', subject, time: `2026-11-2${i}T06:00:00Z`, data: { devices: 7 - i } }),
      cloudEvent({ type: 'backup', subject, time: `2026-11-0${6 + i}T06:00:00Z`, data: { gb: `${12.5 * (i + 1)}` } }),
    ]);
    await expectStatus(svc.request('POST', '/v1/events', { key, body: events }), 202);
    const log = createLogger('silent');
    const { store } = svc.service;
    const catalog = buildCatalog({ store, log, cacheTtlMs: 0, now: () => NOW });
    const plans = buildPlansContracts({ store, catalog, now: () => NOW });
    const charges = buildCharges({ store, catalog, plans, now: () => NOW });
    const bulk = await charges.forCustomers('default', ['acme', 'multi', 'bare-or-missing']);
    expect(bulk.map((statement) => statement.customerId).sort()).toEqual(['acme', 'multi']);
    for (const statement of bulk) {
      expect(statement).toEqual(await charges.forCustomer('default', statement.customerId, 'current'));
    }
    expect(bulk.find((statement) => statement.customerId === 'multi')?.total).not.toBe('0.00');
  });

  it('answers a customer without a contract with no lines, and keeps customer keys to their own charges', async () => {
    await expectStatus(
      svc.request('POST', '/v1/customers', { key, body: { id: 'bare', name: 'Bare', timezone: 'UTC', currency: 'USD' } }),
      201,
    );
    expect((await expectStatus(svc.request('GET', '/v1/customers/bare/charges', { key }), 200)).body).toMatchObject({ contract: null, lines: [], unpriced: [] });
    const acmeKey = (await expectStatus(svc.request('POST', '/v1/api-keys', { key, body: { scope: 'read', customerId: 'acme' } }), 201)).body.key;
    expect((await svc.request('GET', '/v1/customers/acme/charges', { key: acmeKey })).status).toBe(200);
    expect((await svc.request('GET', '/v1/customers/bare/charges', { key: acmeKey })).status).toBe(403);
  });
});
