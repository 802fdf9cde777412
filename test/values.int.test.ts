import { Decimal } from 'decimal.js';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventRow, MIGRATIONS, meterTotalsStatements, migrate, queryMeterTotals } from '../aggregator/index.js';
import { buildCatalog } from '../catalog/index.js';
import { createLogger, loggerOptions } from '../platform/logger.js';
import { buildMetrics } from '../platform/metrics.js';
import { insertRows, quoteIdentifier, selectRows, type Store } from '../platform/store.js';
import { toClickHouseTime } from '../platform/time.js';
import { buildCharges, buildPlansContracts, buildRatingLoop, type RatingLoop } from '../rater/index.js';
import { cloudEvent, expectStatus, plus } from './support/fixtures.js';
import { startTestService, uniqueDatabase, type TestService } from './support/service.js';

/**
 * One bad value never stops a tenant: the sign rule per aggregation, sums that cannot wrap at the
 * documented limits, full precision in daily proration and invoice taxes, and a rater that
 * isolates, backs off, remembers and reports a customer it cannot rate.
 */

const Exact = Decimal.clone({ precision: 120, toExpNeg: -200, toExpPos: 200 });
const LIMIT = '99999999999999999999999999999.999999999';

describe('values at the limits and rating that isolates failures', () => {
  let svc: TestService;
  let key: string;
  const post = (path: string, body: unknown, status = 201) => expectStatus(svc.request('POST', path, { key, body }), status);
  const put = (path: string, body: unknown) => expectStatus(svc.request('PUT', path, { key, body }), 200);
  const get = (path: string, status = 200) => expectStatus(svc.request('GET', path, { key }), status);

  beforeAll(async () => {
    // No rater role: the tests below drive their own rating loops over the same store.
    svc = await startTestService({ env: { METERLINE_ROLES: 'api,aggregator' } });
    key = svc.operatorKey;
    await post('/v1/meters', { key: 'big', name: 'Big', eventType: 'big', aggregation: 'SUM', valueProperty: '$.v' });
    await post('/v1/meters', { key: 'big-avg', name: 'Big average', eventType: 'big', aggregation: 'AVG', valueProperty: '$.v' });
    await post('/v1/meters', { key: 'net', name: 'Net', eventType: 'net', aggregation: 'SUM', valueProperty: '$.v' });
    await post('/v1/meters', { key: 'seats', name: 'Seats', eventType: 'seats', aggregation: 'MAX', valueProperty: '$.seats' });
    await post('/v1/meters', { key: 'cost', name: 'Cost', eventType: 'cost', aggregation: 'SUM', valueProperty: '$.usd' });
    for (const id of ['limits', 'negative', 'gauge', 'credit', 'good', 'bad']) {
      await post('/v1/customers', { id, name: id, timezone: 'UTC', currency: 'USD', subjects: [`${id}-s`] });
    }
  });
  afterAll(async () => svc.close());

  describe('the documented limits', () => {
    it('sums values of 29 integer digits and 9 places exactly, in totals, windows and averages, and counts a resent id once', async () => {
      const events = [
        cloudEvent({ id: 'lim-1', type: 'big', subject: 'limits-s', data: { v: LIMIT } }),
        cloudEvent({ id: 'lim-2', type: 'big', subject: 'limits-s', data: { v: LIMIT } }),
      ];
      expect((await post('/v1/events', events, 202)).body).toMatchObject({ accepted: 2, duplicates: 0 });
      // The same ids again, one of them as a JSON number literal: duplicates, never counted twice.
      const again = `[${JSON.stringify(events[0])},${JSON.stringify(events[1]).replace(`"v":"${LIMIT}"`, `"v":${LIMIT}`)}]`;
      const resent = await expectStatus(svc.request('POST', '/v1/events', { key, body: again, contentType: 'application/json' }), 202);
      expect(resent.body).toMatchObject({ accepted: 0, duplicates: 2 });

      const twice = '199999999999999999999999999999.999999998';
      const total = await get('/v1/meters/big/query?customerId=limits');
      expect(total.body.data.map((row: { value: string }) => row.value)).toEqual([twice]);
      const windows = await get('/v1/meters/big/query?customerId=limits&windowSize=DAY&windowTimeZone=UTC');
      expect(windows.body.data.map((row: { value: string }) => row.value)).toEqual([twice]);
      const usage = await get('/v1/customers/limits/usage?period=current');
      const byKey = new Map((usage.body.meters as Array<{ key: string; value: string }>).map((meter) => [meter.key, meter.value]));
      expect(byKey.get('big')).toBe(twice);
      expect(byKey.get('big-avg')).toBe(LIMIT);
    });

    it('builds the wide sums for events stored before the migration that adds them', async () => {
      const base = svc.service.store;
      const database = uniqueDatabase();
      await base.client.command({ query: `CREATE DATABASE ${quoteIdentifier(database)}` });
      const store: Store = { ...base, database, table: (name) => `${quoteIdentifier(database)}.${quoteIdentifier(name)}` };
      const log = createLogger('silent');
      await migrate(store, log, MIGRATIONS.filter((migration) => migration.version <= 5));
      const time = toClickHouseTime(new Date('2026-11-20T10:00:00Z'));
      await insertRows(
        store,
        'events',
        eventRow,
        ['old-1', 'old-2'].map((id) => ({
          tenant_id: 'default',
          meter_key: 'big',
          subject: 's',
          time,
          event_id: id,
          is_raw: 1,
          type: 'big',
          source: 'test',
          data: '{}',
          ingested_at: time,
          value: LIMIT,
          value_key: '',
          group_by: '{}',
        })),
      );
      expect((await migrate(store, log)).applied).toEqual(MIGRATIONS.filter((migration) => migration.version > 5).map((migration) => migration.version));
      const from = new Date('2026-11-01T00:00:00Z');
      const to = new Date('2026-12-01T00:00:00Z');
      const [total] = await queryMeterTotals(store, 'default', [{ key: 'big', aggregation: 'SUM', groupBy: {} }], ['s'], from, to);
      expect(total?.value).toBe('199999999999999999999999999999.999999998');
      const [statement] = meterTotalsStatements(store, 'default', ['big'], ['s'], from, to);
      const plan = await selectRows<{ explain: string }>(store, `EXPLAIN projections = 1 ${statement?.sql ?? ''}`, statement?.params ?? {});
      expect(plan.map((line) => line.explain).join('\n')).toMatch(/ReadFromMergeTree \(usage_by_minute_wide\)/);
    });

    it('sums negative values at the limit exactly too', async () => {
      const events = ['neg-1', 'neg-2'].map((id) => cloudEvent({ id, type: 'net', subject: 'negative-s', data: { v: `-${LIMIT}` } }));
      const sent = await post('/v1/events', [...events, cloudEvent({ type: 'net', subject: 'negative-s', data: { v: '0.000000001' } })], 202);
      expect(sent.body).toMatchObject({ accepted: 3, rejected: [] });
      const total = await get('/v1/meters/net/query?customerId=negative');
      expect(total.body.data[0].value).toBe('-199999999999999999999999999999.999999997');
    });
  });

  describe('the sign rule', () => {
    it('refuses a negative value for a MAX meter with a 400 naming the field', async () => {
      const response = await post('/v1/events', [cloudEvent({ id: 'seat-neg', type: 'seats', subject: 'gauge-s', data: { seats: '-1' } })], 400);
      expect(response.body.rejected).toEqual([
        {
          index: 0,
          id: 'seat-neg',
          errors: [
            { path: 'data.seats', message: 'meter seats (MAX) takes values of 0 or more, got -1; only SUM meters take negative values (credits, corrections)' },
          ],
        },
      ]);
    });

    it('prices the corrections of a SUM meter that outweigh its usage as a credit with a unit price', async () => {
      await post('/v1/plans', {
        key: 'resale',
        name: 'Resale',
        currency: 'USD',
        charges: [{ key: 'cost', meter: 'cost', price: { model: 'unit', unitAmount: '0.5' } }],
        effectiveFrom: '2026-01-01T00:00:00Z',
      });
      await put('/v1/customers/credit/contract', { plan: 'resale', startsAt: '2026-01-01T00:00:00Z' });
      await post('/v1/events', [
        cloudEvent({ type: 'cost', subject: 'credit-s', data: { usd: '10' } }),
        cloudEvent({ type: 'cost', subject: 'credit-s', data: { usd: '-25' } }),
      ], 202);
      const charges = await get('/v1/customers/credit/charges');
      expect(charges.body.lines[0]).toMatchObject({ charge: 'cost', quantity: '-15', amount: '-7.50' });
      expect(charges.body.total).toBe('-7.50');
    });
  });

  it('keeps 18-digit daily maxima exact through daily proration, and sums invoice taxes exactly', async () => {
    await post('/v1/meters', { key: 'devices', name: 'Devices', eventType: 'devices', aggregation: 'MAX', valueProperty: '$.n' });
    await post('/v1/plans', {
      key: 'fleet',
      name: 'Fleet',
      currency: 'USD',
      charges: [{ key: 'devices', meter: 'devices', proration: 'daily', price: { model: 'unit', unitAmount: '10000' } }],
      effectiveFrom: '2026-01-01T00:00:00Z',
    });
    await put('/v1/customers/gauge/contract', {
      plan: 'fleet',
      startsAt: '2026-01-01T00:00:00Z',
      taxRates: [
        { name: 'State', percent: '7.25' },
        { name: 'City', percent: '3.33' },
      ],
    });
    // 377580 = lcm(28, 29, 30, 31): the daily average is exact whatever the period's length.
    const maximum = '377580000000377580.00037758';
    await post('/v1/events', [cloudEvent({ type: 'devices', subject: 'gauge-s', data: { n: maximum } })], 202);
    const today = new Date().toISOString().slice(0, 10);
    const charges = await get(`/v1/customers/gauge/charges?period=${today}`);
    const days = Math.round((Date.parse(charges.body.periodEnd) - Date.parse(charges.body.periodStart)) / 86_400_000);
    const line = charges.body.lines[0];
    expect(line.quantity).toBe(new Exact(maximum).div(days).toFixed());
    expect(line.preciseAmount).toBe(new Exact(maximum).div(days).times(10000).toFixed());
    const preview = await get(`/v1/customers/gauge/invoice-preview?period=${today}`);
    expect(preview.body.lines[0].tax).toBe(new Exact(plus(...line.taxes.map((tax: { amount: string }) => tax.amount))).toFixed(2));
    expect(preview.body.tax).toBe(charges.body.tax);
  });

  describe('a customer that cannot be rated', () => {
    const logLines: string[] = [];
    const log = pino(loggerOptions('debug'), { write: (line: string) => void logLines.push(line) });
    let skew = 0;
    const now = () => Date.now() + skew;
    let metrics = buildMetrics();

    function loop(): RatingLoop {
      const store = svc.service.store;
      const catalog = buildCatalog({ store, log, cacheTtlMs: 0 });
      const plans = buildPlansContracts({ store, catalog, now });
      const charges = buildCharges({ store, catalog, plans, now });
      metrics = buildMetrics();
      return buildRatingLoop({
        store,
        log,
        metrics,
        subjectOwners: (tenantId) => catalog.subjectOwners(tenantId),
        rate: (tenantId, customerIds) => charges.rateCustomers(tenantId, customerIds),
        // Long enough that no slow machine reaches the first retry by accident; the clock is skewed instead.
        intervalMs: 5_000,
        retryMaxMs: 40_000,
        now,
      });
    }
    const failureLogs = () => logLines.filter((line) => line.includes('rating a customer failed; retrying it with backoff'));
    const latestTotal = async (customer: string) => (await get(`/v1/customers/${customer}/charges/history`)).body.data[0]?.total as string | undefined;
    const metricValue = async (pattern: RegExp) => Number(pattern.exec(await metrics.registry.metrics())?.[1] ?? 'NaN');

    let rater: RatingLoop;

    beforeAll(async () => {
      await post('/v1/plans', {
        key: 'tiered',
        name: 'Tiered',
        currency: 'USD',
        charges: [{ key: 'cost', meter: 'cost', price: { model: 'graduated', tiers: [{ upTo: '100', unitAmount: '1' }, { upTo: null, unitAmount: '0.5' }] } }],
        effectiveFrom: '2026-01-01T00:00:00Z',
      });
      for (const id of ['good', 'bad']) await put(`/v1/customers/${id}/contract`, { plan: 'tiered', startsAt: '2026-01-01T00:00:00Z' });
      await post('/v1/events', [
        cloudEvent({ type: 'cost', subject: 'good-s', data: { usd: '5' } }),
        cloudEvent({ type: 'cost', subject: 'bad-s', data: { usd: '-5' } }),
      ], 202);
      rater = loop();
    });

    it('rates the other customers of its tenant on time and says in the charges answer why it failed', async () => {
      await rater.runOnce();
      expect(await latestTotal('good')).toBe('5.00');
      expect(await latestTotal('bad')).toBeUndefined();
      expect(rater.failure('default', 'bad')).toMatchObject({ kind: 'price', attempts: 1 });
      const answer = await get('/v1/customers/bad/charges', 422);
      const reason = 'charge cost: quantity must not be negative for a graduated price (only unit and markup prices take credits), got "-5"';
      expect(answer.body).toEqual({ error: { code: 'rating_failed', message: `rating failed: ${reason}`, details: [{ path: 'charges.cost', message: reason }] } });
      expect((await get('/v1/customers/bad/invoice-preview', 422)).body.error.code).toBe('rating_failed');
      expect(await metricValue(/^meterline_rater_customer_failures_total\{reason="price"\} (\d+)$/m)).toBe(1);
      expect(await metricValue(/^meterline_rater_customers_failing (\d+)$/m)).toBe(1);
    });

    it('retries it with backoff, logging once while the reason stays the same', async () => {
      // Within the first delay (2.5 to 5 s) it is not tried again; the good customer is.
      await post('/v1/events', [cloudEvent({ type: 'cost', subject: 'good-s', data: { usd: '1' } })], 202);
      await rater.runOnce();
      expect(rater.failure('default', 'bad')?.attempts).toBe(1);
      expect(await latestTotal('good')).toBe('6.00');
      // Each cycle past the retry moment is one more attempt, and each delay is longer than the last.
      const delays: number[] = [];
      for (let attempt = 2; attempt <= 4; attempt += 1) {
        const before = rater.failure('default', 'bad');
        skew = (before?.retryAt ?? 0) - Date.now() + 1;
        await rater.runOnce();
        const after = rater.failure('default', 'bad');
        expect(after?.attempts).toBe(attempt);
        delays.push((after?.retryAt ?? 0) - now());
      }
      // Capped exponential with jitter in the upper half: attempt n waits 5 s × 2^(n-1), halved at most.
      expect(delays[0]).toBeGreaterThanOrEqual(5_000);
      expect(delays[2]).toBeGreaterThanOrEqual(20_000);
      expect(Math.max(...delays)).toBeLessThanOrEqual(40_000);
      expect(await metricValue(/^meterline_rater_customer_failures_total\{reason="price"\} (\d+)$/m)).toBe(4);
      expect(failureLogs()).toHaveLength(1);
      expect(logLines.join('\n')).not.toMatch(/"stack"/);
    });

    it('logs again when the reason changes', async () => {
      await put('/v1/customers/bad/contract', {
        plan: 'tiered',
        startsAt: '2026-01-01T00:00:00Z',
        overrides: { cost: { model: 'volume', tiers: [{ upTo: null, unitAmount: '1' }] } },
      });
      // New terms may be the fix: tried at the next cycle, not after the backoff.
      rater.markCustomer('default', 'bad');
      await rater.runOnce();
      expect(rater.failure('default', 'bad')).toMatchObject({ attempts: 5, reason: expect.stringContaining('volume price') });
      expect(failureLogs()).toHaveLength(2);
    });

    it('is not forgotten after a restart: a new rater retries it with its count of attempts', async () => {
      await rater.stop();
      const restarted = loop();
      // The restarted rater has never seen it; only the stored failure can bring it back.
      skew += 120_000;
      await restarted.runOnce();
      expect(restarted.failure('default', 'bad')).toMatchObject({ attempts: 6, kind: 'price' });
      expect(await metricValue(/^meterline_rater_customers_failing (\d+)$/m)).toBe(1);
      rater = restarted;
    });

    it('recovers once its usage is corrected: rated, no longer failing, and the charges answer is back', async () => {
      await post('/v1/events', [cloudEvent({ type: 'cost', subject: 'bad-s', data: { usd: '12' } })], 202);
      skew = (rater.failure('default', 'bad')?.retryAt ?? 0) - Date.now() + 1;
      await rater.runOnce();
      expect(rater.failure('default', 'bad')).toBeUndefined();
      expect(await latestTotal('bad')).toBe('7.00');
      expect((await get('/v1/customers/bad/charges')).body.total).toBe('7.00');
      expect(await metricValue(/^meterline_rater_customers_failing (\d+)$/m)).toBe(0);
      const [row] = await selectRows<{ failing: number }>(
        svc.service.store,
        `SELECT argMax(failing, at) AS failing FROM ${svc.service.store.table('rating_failures')} WHERE customer_id = 'bad'`,
        {},
      );
      expect(Number(row?.failing)).toBe(0);
      await rater.stop();
    });
  });
});
