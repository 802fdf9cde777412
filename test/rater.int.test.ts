import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cloudEvent, expectStatus } from './support/fixtures.js';
import { waitFor } from './support/process.js';
import { startTestService, type TestService } from './support/service.js';

/** The continuous rater keeps each customer's charges a moment behind its events and terms. */
describe('continuous rating', () => {
  let svc: TestService;
  let key: string;

  beforeAll(async () => {
    svc = await startTestService({ env: { METERLINE_RATER_INTERVAL: '100ms' } });
    key = svc.operatorKey;
    const post = (path: string, body: unknown, status = 201) => expectStatus(svc.request('POST', path, { key, body }), status);
    await post('/v1/meters', { key: 'calls', name: 'Calls', eventType: 'api.call', aggregation: 'COUNT' });
    await post('/v1/customers', { id: 'acme', name: 'Acme', timezone: 'UTC', currency: 'EUR', subjects: ['acme-1'] });
    await post('/v1/customers', { id: 'idle', name: 'Idle', timezone: 'UTC', currency: 'EUR' });
    await post('/v1/plans', {
      key: 'api',
      name: 'API',
      currency: 'EUR',
      charges: [{ key: 'calls', meter: 'calls', price: { model: 'unit', unitAmount: '0.25' } }],
      effectiveFrom: '2026-01-01T00:00:00Z',
    });
    for (const id of ['acme', 'idle']) {
      await expectStatus(svc.request('PUT', `/v1/customers/${id}/contract`, { key, body: { plan: 'api', startsAt: '2026-01-01T00:00:00Z' } }), 200);
    }
  });
  afterAll(async () => svc.close());

  const latest = async (customer: string) => {
    const response = await expectStatus(svc.request('GET', `/v1/customers/${customer}/charges/history`, { key }), 200);
    return response.body.data[0] as { total: string; ratedAt: string } | undefined;
  };

  it('rates a customer after its events arrive and again after more arrive', async () => {
    const events = (n: number) => Array.from({ length: n }, () => cloudEvent({ type: 'api.call', subject: 'acme-1' }));
    await expectStatus(svc.request('POST', '/v1/events', { key, body: events(8) }), 202);
    await waitFor(async () => ((await latest('acme'))?.total === '2.00' ? true : undefined), 'the first rating', 20_000);
    await expectStatus(svc.request('POST', '/v1/events', { key, body: events(4) }), 202);
    await waitFor(async () => ((await latest('acme'))?.total === '3.00' ? true : undefined), 'the second rating', 20_000);
    const history = await expectStatus(svc.request('GET', '/v1/customers/acme/charges/history', { key }), 200);
    const totals = (history.body.data as Array<{ total: string }>).map((row) => row.total);
    expect(totals[0]).toBe('3.00');
    expect(totals).toContain('2.00');
    // The live figure agrees with the snapshot.
    expect((await expectStatus(svc.request('GET', '/v1/customers/acme/charges', { key }), 200)).body.total).toBe('3.00');
  });

  it('rates again when the terms change, even with no new usage', async () => {
    await waitFor(async () => ((await latest('acme'))?.total === '3.00' ? true : undefined), 'a settled rating', 20_000);
    await expectStatus(
      svc.request('PUT', '/v1/customers/acme/contract', {
        key,
        body: { plan: 'api', startsAt: '2026-01-01T00:00:00Z', discounts: [{ percent: '50' }], reason: 'goodwill' },
      }),
      200,
    );
    await waitFor(async () => ((await latest('acme'))?.total === '1.50' ? true : undefined), 'the rating after the discount', 20_000);
  });

  it('exposes how far rating trails the events', async () => {
    const metrics = (await svc.request('GET', '/metrics')).text;
    expect(Number(/^meterline_rater_customers_rated_total (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThan(0);
    expect(Number(/^meterline_rater_event_to_rated_seconds_count (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThan(0);
    expect(metrics).toMatch(/^meterline_rater_cycle_duration_seconds_count \d+$/m);
  });

  it('answers charges from the latest rating while nothing changed, and never a stale figure after a change', async () => {
    await waitFor(async () => ((await latest('acme'))?.total === '1.50' ? true : undefined), 'a settled rating', 20_000);
    const before = await expectStatus(svc.request('GET', '/v1/customers/acme/charges', { key }), 200);
    // Right after an accepted event, the read reflects it: the stored events mark the customer.
    await expectStatus(svc.request('POST', '/v1/events', { key, body: Array.from({ length: 4 }, () => cloudEvent({ type: 'api.call', subject: 'acme-1' })) }), 202);
    const after = await expectStatus(svc.request('GET', '/v1/customers/acme/charges', { key }), 200);
    expect(after.body.total).toBe('2.00');
    expect(before.body.total).toBe('1.50');
    // Once rated and settled (the rater looks back a few seconds for late-visible events),
    // reads come from the rating: its asOf is the rating's, not the request's.
    await waitFor(async () => ((await latest('acme'))?.total === '2.00' ? true : undefined), 'the new rating', 20_000);
    await waitFor(async () => {
      const a = await svc.request('GET', '/v1/customers/acme/charges', { key });
      await new Promise((resolve) => setTimeout(resolve, 300));
      const b = await svc.request('GET', '/v1/customers/acme/charges', { key });
      return a.body.asOf === b.body.asOf ? true : undefined;
    }, 'reads served from the rating', 30_000);
    const first = await expectStatus(svc.request('GET', '/v1/customers/acme/charges', { key }), 200);
    const second = await expectStatus(svc.request('GET', '/v1/customers/acme/charges', { key }), 200);
    expect(second.body.asOf).toBe(first.body.asOf);
    expect(second.body.total).toBe('2.00');
    // A new plan version is never answered from the old rating.
    await expectStatus(
      svc.request('POST', '/v1/plans', {
        key,
        body: {
          key: 'api',
          name: 'API',
          currency: 'EUR',
          charges: [{ key: 'calls', meter: 'calls', price: { model: 'unit', unitAmount: '0.50' } }],
          effectiveFrom: '2026-01-02T00:00:00Z',
        },
      }),
      201,
    );
    const repriced = await expectStatus(svc.request('GET', '/v1/customers/acme/charges', { key }), 200);
    expect(repriced.body.total).toBe('4.00');
  });
});
