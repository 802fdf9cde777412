import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, expectStatus } from './support/fixtures.js';
import { startTestService, type TestService } from './support/service.js';

const NOW = Date.parse('2026-11-20T12:00:00Z');

/** Plans and contracts: append-only versions, effective dates, audit, validation, isolation. */
describe('plans and contracts', () => {
  let svc: TestService;
  let key: string;

  const plan = (overrides: Record<string, unknown> = {}) => ({
    key: 'msp-standard',
    name: 'MSP standard',
    currency: 'USD',
    charges: [
      { key: 'devices', meter: 'devices', price: { model: 'unit', unitAmount: '4.50' }, category: 'Endpoints', proration: 'daily' },
      {
        key: 'storage',
        meter: 'gb',
        price: { model: 'graduated', tiers: [{ upTo: '100', unitAmount: '0' }, { upTo: null, unitAmount: '0.08' }] },
        category: 'Backup',
      },
      { key: 'platform', price: { model: 'flat', amount: '99' }, category: 'Platform' },
    ],
    ...overrides,
  });

  beforeAll(async () => {
    svc = await startTestService({ now: () => NOW });
    key = svc.operatorKey;
    for (const meter of [
      { key: 'devices', name: 'Devices', eventType: 'inventory', aggregation: 'LATEST', valueProperty: '$.devices' },
      { key: 'gb', name: 'Backup GB', eventType: 'backup', aggregation: 'SUM', valueProperty: '$.gb' },
    ]) {
      await expectStatus(svc.request('POST', '/v1/meters', { key, body: meter }), 201);
    }
    await expectStatus(
      svc.request('POST', '/v1/customers', { key, body: { id: 'acme', name: 'Acme', timezone: 'Europe/Berlin', currency: 'USD' } }),
      201,
    );
    await expectStatus(
      svc.request('POST', '/v1/customers', { key, body: { id: 'yen', name: 'Yen Co', timezone: 'Asia/Tokyo', currency: 'JPY' } }),
      201,
    );
  });
  afterAll(async () => svc.close());

  it('creates version 1, then new versions for the same key, never editing the old ones', async () => {
    const first = await expectStatus(svc.request('POST', '/v1/plans', { key, body: plan() }), 201);
    expect(first.body).toMatchObject({ key: 'msp-standard', version: 1, effectiveFrom: new Date(NOW).toISOString() });
    const repriced = plan({ effectiveFrom: '2026-11-25T00:00:00Z' });
    (repriced.charges as Array<{ price: unknown }>)[0] = { ...(repriced.charges as Array<Record<string, unknown>>)[0], price: { model: 'unit', unitAmount: '5.00' } };
    const second = await expectStatus(svc.request('POST', '/v1/plans', { key, body: repriced }), 201);
    expect(second.body).toMatchObject({ version: 2, effectiveFrom: '2026-11-25T00:00:00.000Z' });
    const versions = await expectStatus(svc.request('GET', '/v1/plans/msp-standard', { key }), 200);
    expect(versions.body.data.map((v: { version: number; charges: Array<{ price: { unitAmount?: string } }> }) => [v.version, v.charges[0]?.price.unitAmount])).toEqual([
      [1, '4.50'],
      [2, '5.00'],
    ]);
    const latest = await expectStatus(svc.request('GET', '/v1/plans', { key }), 200);
    expect(latest.body.data.map((v: { key: string; version: number }) => [v.key, v.version])).toEqual([['msp-standard', 2]]);
  });

  it('refuses a version that takes effect before the previous one, or changes the currency', async () => {
    const early = await svc.request('POST', '/v1/plans', { key, body: plan({ effectiveFrom: '2026-11-01T00:00:00Z' }) });
    expect(early.status).toBe(400);
    expect(early.body.error.details[0].path).toBe('effectiveFrom');
    const midMinute = await svc.request('POST', '/v1/plans', { key, body: plan({ effectiveFrom: '2026-12-01T00:00:30.5Z' }) });
    expect(midMinute.status).toBe(400);
    expect(midMinute.body.error.details[0]).toMatchObject({ path: 'body.effectiveFrom', message: expect.stringMatching(/whole minute/) });
    const euros = await svc.request('POST', '/v1/plans', { key, body: plan({ currency: 'EUR', effectiveFrom: '2026-12-01T00:00:00Z' }) });
    expect(euros.status).toBe(400);
    expect(euros.body.error.details[0].path).toBe('currency');
  });

  it('validates charges and prices with the path of each problem', async () => {
    const bad = async (body: unknown) => {
      const response = await svc.request('POST', '/v1/plans', { key, body });
      expect(response.status).toBe(400);
      return (response.body.error.details as Array<{ path: string }>).map((detail) => detail.path);
    };
    expect(await bad(plan({ key: 'p2', charges: [{ key: 'x', meter: 'nope', price: { model: 'unit', unitAmount: '1' } }] }))).toEqual(['charges.0.meter']);
    expect(await bad(plan({ key: 'p2', charges: [{ key: 'x', price: { model: 'unit', unitAmount: '1' } }] }))).toContain('body.charges.0.meter');
    expect(
      await bad(plan({ key: 'p2', charges: [{ key: 'x', meter: 'gb', price: { model: 'graduated', tiers: [{ upTo: '5', unitAmount: '1' }, { upTo: '2', unitAmount: '1' }, { upTo: null, unitAmount: '1' }] } }] })),
    ).toContain('body.charges.0.price.tiers.1.upTo');
    expect(
      await bad(plan({ key: 'p2', charges: [{ key: 'x', meter: 'gb', price: { model: 'unit', unitAmount: '1' } }, { key: 'x', meter: 'gb', price: { model: 'unit', unitAmount: '2' } }] })),
    ).toContain('body.charges.1.key');
  });

  it('keeps every contract change as a version with who and why', async () => {
    const terms = {
      plan: 'msp-standard',
      startsAt: '2026-11-01T00:00:00+01:00',
      overrides: { storage: { model: 'unit', unitAmount: '0.05' } },
      discounts: [{ chargeKey: 'devices', percent: '10', validFrom: '2026-11-01T00:00:00Z', validTo: '2026-11-08T00:00:00Z' }],
      minimumCommitment: '500',
      taxRates: [
        { name: 'State', percent: '6' },
        { name: 'County', percent: '1.5' },
      ],
      reason: 'signed order form #1042',
    };
    const first = await expectStatus(svc.request('PUT', '/v1/customers/acme/contract', { key, body: terms }), 200);
    expect(first.body).toMatchObject({ customerId: 'acme', version: 1, createdBy: 'operator', reason: 'signed order form #1042' });
    const second = await expectStatus(
      svc.request('PUT', '/v1/customers/acme/contract', { key, body: { ...terms, minimumCommitment: '750', reason: 'upsell' } }),
      200,
    );
    expect(second.body.version).toBe(2);
    const history = await expectStatus(svc.request('GET', '/v1/customers/acme/contract/history', { key }), 200);
    expect(history.body.data.map((v: { version: number; reason: string; terms: { minimumCommitment: string } }) => [v.version, v.reason, v.terms.minimumCommitment])).toEqual([
      [1, 'signed order form #1042', '500'],
      [2, 'upsell', '750'],
    ]);
    const current = await expectStatus(svc.request('GET', '/v1/customers/acme/contract', { key }), 200);
    expect(current.body.version).toBe(2);
  });

  it('refuses contracts that do not fit the plan or the customer', async () => {
    const base = { plan: 'msp-standard', startsAt: '2026-11-01T00:00:00Z' };
    const path = async (id: string, body: unknown) => {
      const response = await svc.request('PUT', `/v1/customers/${id}/contract`, { key, body });
      return [response.status, response.body.error?.details?.[0]?.path];
    };
    expect(await path('yen', base)).toEqual([400, 'plan']);
    expect(await path('acme', { ...base, plan: 'ghost' })).toEqual([400, 'plan']);
    expect(await path('acme', { ...base, overrides: { nothing: { model: 'unit', unitAmount: '1' } } })).toEqual([400, 'overrides.nothing']);
    expect(await path('acme', { ...base, discounts: [{ chargeKey: 'nothing', percent: '5' }] })).toEqual([400, 'discounts.0.chargeKey']);
    expect(await path('acme', { ...base, discounts: [{ percent: '5', amount: '3' }] })).toEqual([400, 'body.discounts.0.percent']);
    expect(await path('acme', { ...base, endsAt: '2026-10-01T00:00:00Z' })).toEqual([400, 'body.endsAt']);
    expect(await path('acme', { ...base, taxRates: [{ name: 'x', percent: '101' }] })).toEqual([400, 'body.taxRates.0.percent']);
    expect(await path('acme', { ...base, startsAt: '2026-11-01T00:00:30Z' })).toEqual([400, 'body.startsAt']);
    expect((await svc.request('PUT', '/v1/customers/nobody/contract', { key, body: base })).status).toBe(404);
    expect((await svc.request('GET', '/v1/customers/yen/contract', { key })).status).toBe(404);
  });

  it("keeps one tenant's plans and contracts from another, and customer keys to their own", async () => {
    const other = await createTenant(svc, 'other-msp');
    expect((await svc.request('GET', '/v1/plans/msp-standard', { key: other })).status).toBe(404);
    expect((await svc.request('GET', '/v1/customers/acme/contract', { key: other })).status).toBe(404);
    const acmeKey = (await expectStatus(svc.request('POST', '/v1/api-keys', { key, body: { scope: 'read', customerId: 'acme' } }), 201)).body.key;
    expect((await svc.request('GET', '/v1/customers/acme/contract', { key: acmeKey })).status).toBe(200);
    expect((await svc.request('GET', '/v1/customers/yen/contract/history', { key: acmeKey })).status).toBe(403);
    expect((await svc.request('GET', '/v1/plans', { key: acmeKey })).status).toBe(403);
    expect((await svc.request('PUT', '/v1/customers/acme/contract', { key: acmeKey, body: {} })).status).toBe(403);
  });
});
