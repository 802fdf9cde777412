import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dailyMaximaStatement, meterTotalsStatements, meterUsageStatement } from '../aggregator/index.js';
import { selectRows } from '../platform/store.js';
import { cloudEvent, expectStatus } from './support/fixtures.js';
import { startTestService, uniqueDatabase, type TestService } from './support/service.js';

const NOW = Date.parse('2026-11-20T12:00:00Z');
const now = () => NOW;

const AGGREGATIONS = ['SUM', 'COUNT', 'MAX', 'MIN', 'UNIQUE_COUNT', 'LATEST', 'AVG'] as const;

/** Five events whose every aggregate is worked out by hand below. */
const EVENTS = [
  { id: 'u1', subject: 's1', time: '2026-11-20T10:00:10Z', data: { v: '5', region: 'eu', user: 'alice' } },
  { id: 'u2', subject: 's1', time: '2026-11-20T10:00:40Z', data: { v: 3, region: 'us', user: 'bob' } },
  { id: 'u3', subject: 's1', time: '2026-11-20T10:01:05Z', data: { v: '10', region: 'eu', user: 'alice' } },
  { id: 'u4', subject: 's1', time: '2026-11-20T11:30:00Z', data: { v: '2.5', region: 'eu', user: 'carol' } },
  { id: 'u5', subject: 's2', time: '2026-11-20T11:59:59.999Z', data: { v: 7, region: 'us', user: 'bob' } },
];

const EXPECTED: Record<(typeof AGGREGATIONS)[number], string> = {
  SUM: '27.5',
  COUNT: '5',
  MAX: '10',
  MIN: '2.5',
  UNIQUE_COUNT: '3',
  LATEST: '7',
  AVG: '5.5',
};

describe('usage on the real engine', () => {
  let svc: TestService;
  let key: string;
  const database = uniqueDatabase();

  beforeAll(async () => {
    svc = await startTestService({ now, database });
    key = svc.operatorKey;
    for (const aggregation of AGGREGATIONS) {
      const valueProperty = aggregation === 'COUNT' ? undefined : aggregation === 'UNIQUE_COUNT' ? '$.user' : '$.v';
      await expectStatus(
        svc.request('POST', '/v1/meters', {
          key,
          body: {
            key: aggregation.toLowerCase().replace('_', '-'),
            name: aggregation,
            eventType: 'usage',
            aggregation,
            ...(valueProperty ? { valueProperty } : {}),
            groupBy: { region: '$.region' },
          },
        }),
        201,
      );
    }
    const customers = [
      { id: 'acme', name: 'Acme', timezone: 'UTC', currency: 'USD', subjects: ['s1', 's2'] },
      { id: 'ny', name: 'NY', timezone: 'America/New_York', currency: 'USD', subjects: ['s-ny'] },
      { id: 'ktm', name: 'KTM', timezone: 'Asia/Kathmandu', currency: 'NPR', billingAnchorDay: 28, subjects: ['s-ktm'] },
    ];
    for (const customer of customers) await expectStatus(svc.request('POST', '/v1/customers', { key, body: customer }), 201);
    await expectStatus(
      svc.request('POST', '/v1/events', { key, body: EVENTS.map((event) => cloudEvent({ ...event, type: 'usage' })) }),
      202,
    );
  });
  afterAll(async () => svc.close());

  const query = async (meter: string, params = '') =>
    (await expectStatus(svc.request('GET', `/v1/meters/${meter}/query${params}`, { key }), 200)).body.data as Array<{
      windowStart: string;
      windowEnd: string;
      subject?: string;
      groupBy: Record<string, string | null>;
      value: string;
    }>;

  for (const aggregation of AGGREGATIONS) {
    it(`${aggregation} matches the hand-computed total`, async () => {
      const rows = await query(aggregation.toLowerCase().replace('_', '-'));
      expect(rows.map((row) => row.value)).toEqual([EXPECTED[aggregation]]);
    });
  }

  it('splits by a group-by dimension', async () => {
    const rows = await query('sum', '?groupBy=region');
    expect(rows.map((row) => [row.groupBy.region, row.value])).toEqual([
      ['eu', '17.5'],
      ['us', '10'],
    ]);
    const unique = await query('unique-count', '?groupBy=region');
    expect(unique.map((row) => [row.groupBy.region, row.value])).toEqual([
      ['eu', '2'],
      ['us', '1'],
    ]);
  });

  it('splits by subject and filters by subject or customer', async () => {
    const bySubject = await query('sum', '?groupBy=subject');
    expect(bySubject.map((row) => [row.subject, row.value])).toEqual([
      ['s1', '20.5'],
      ['s2', '7'],
    ]);
    expect((await query('sum', '?subject=s2')).map((row) => row.value)).toEqual(['7']);
    const forCustomer = await query('latest', '?customerId=acme');
    expect(forCustomer).toEqual([expect.objectContaining({ customerId: 'acme', value: '7' })]);
  });

  it('answers windows of a minute, an hour, a day and a month', async () => {
    const minutes = await query('sum', '?windowSize=MINUTE&from=2026-11-20T10:00:00Z&to=2026-11-20T12:00:00Z');
    expect(minutes.map((row) => [row.windowStart, row.value])).toEqual([
      ['2026-11-20T10:00:00.000Z', '8'],
      ['2026-11-20T10:01:00.000Z', '10'],
      ['2026-11-20T11:30:00.000Z', '2.5'],
      ['2026-11-20T11:59:00.000Z', '7'],
    ]);
    expect(minutes[0]?.windowEnd).toBe('2026-11-20T10:01:00.000Z');
    const hours = await query('max', '?windowSize=HOUR');
    expect(hours.map((row) => [row.windowStart, row.windowEnd, row.value])).toEqual([
      ['2026-11-20T10:00:00.000Z', '2026-11-20T11:00:00.000Z', '10'],
      ['2026-11-20T11:00:00.000Z', '2026-11-20T12:00:00.000Z', '7'],
    ]);
    // Kathmandu is UTC+05:45: its hours start at a quarter past the UTC hour.
    const ktmHours = await query('count', '?windowSize=HOUR&windowTimeZone=Asia/Kathmandu');
    expect(ktmHours.map((row) => [row.windowStart, row.value])).toEqual([
      ['2026-11-20T09:15:00.000Z', '3'],
      ['2026-11-20T11:15:00.000Z', '2'],
    ]);
    const days = await query('sum', '?windowSize=DAY&windowTimeZone=Asia/Kolkata');
    expect(days.map((row) => [row.windowStart, row.windowEnd, row.value])).toEqual([
      ['2026-11-19T18:30:00.000Z', '2026-11-20T18:30:00.000Z', '27.5'],
    ]);
    const months = await query('avg', '?windowSize=MONTH&windowTimeZone=Australia/Eucla');
    expect(months.map((row) => [row.windowStart, row.windowEnd, row.value])).toEqual([
      ['2026-10-31T15:15:00.000Z', '2026-11-30T15:15:00.000Z', '5.5'],
    ]);
  });

  it('keeps a DST day 25 hours long and puts each event in exactly one day', async () => {
    // New York leaves daylight time on 2026-11-01 at 02:00 local (06:00Z).
    const events = [
      { id: 'ny-1', subject: 's-ny', time: '2026-11-01T03:30:00Z' }, // 2026-10-31 23:30 EDT
      { id: 'ny-2', subject: 's-ny', time: '2026-11-01T04:30:00Z' }, // 2026-11-01 00:30 EDT
      { id: 'ny-3', subject: 's-ny', time: '2026-11-02T04:30:00Z' }, // 2026-11-01 23:30 EST
      { id: 'ny-4', subject: 's-ny', time: '2026-11-02T05:00:00Z' }, // 2026-11-02 00:00 EST
    ];
    await expectStatus(
      svc.request('POST', '/v1/events', { key, body: events.map((event) => cloudEvent({ ...event, type: 'usage', data: { v: 1, user: event.id } })) }),
      202,
    );
    const days = await query('count', '?subject=s-ny&windowSize=DAY&windowTimeZone=America/New_York');
    expect(days.map((row) => [row.windowStart, row.windowEnd, row.value])).toEqual([
      ['2026-10-31T04:00:00.000Z', '2026-11-01T04:00:00.000Z', '1'],
      ['2026-11-01T04:00:00.000Z', '2026-11-02T05:00:00.000Z', '2'],
      ['2026-11-02T05:00:00.000Z', '2026-11-03T05:00:00.000Z', '1'],
    ]);
  });

  it("totals a customer's billing period in its time zone, half-open and exact", async () => {
    const usage = (id: string, period = '') =>
      expectStatus(svc.request('GET', `/v1/customers/${id}/usage${period}`, { key }), 200).then((r) => r.body);
    const november = await usage('ny', '?period=2026-11-15');
    expect([november.periodStart, november.periodEnd]).toEqual(['2026-11-01T04:00:00.000Z', '2026-12-01T05:00:00.000Z']);
    expect(november.meters.find((m: { key: string }) => m.key === 'count').value).toBe('3');
    const october = await usage('ny', '?period=2026-10-15');
    expect(october.periodEnd).toBe('2026-11-01T04:00:00.000Z');
    expect(october.meters.find((m: { key: string }) => m.key === 'count').value).toBe('1');

    const acme = await usage('acme');
    expect([acme.periodStart, acme.periodEnd]).toEqual(['2026-11-01T00:00:00.000Z', '2026-12-01T00:00:00.000Z']);
    const byKey = Object.fromEntries(acme.meters.map((m: { key: string; value: string }) => [m.key, m.value]));
    expect(byKey).toEqual({
      avg: '5.5',
      count: '5',
      latest: '7',
      max: '10',
      min: '2.5',
      sum: '27.5',
      'unique-count': '3',
    });
    const sum = acme.meters.find((m: { key: string }) => m.key === 'sum');
    expect(sum.groupBy).toEqual([
      { group: { region: 'eu' }, value: '17.5' },
      { group: { region: 'us' }, value: '10' },
    ]);

    const ktm = await usage('ktm');
    // Anchor day 28 at local midnight in UTC+05:45.
    expect([ktm.periodStart, ktm.periodEnd]).toEqual(['2026-10-27T18:15:00.000Z', '2026-11-27T18:15:00.000Z']);
    expect(ktm.meters.find((m: { key: string }) => m.key === 'max').value).toBeNull();
    expect(ktm.meters.find((m: { key: string }) => m.key === 'sum').value).toBe('0');
  });

  it('refuses unaligned or reversed ranges, unknown dimensions and bad periods', async () => {
    const bad = async (path: string) => (await svc.request('GET', path, { key })).status;
    expect(await bad('/v1/meters/sum/query?from=2026-11-20T10:00:30Z')).toBe(400);
    expect(await bad('/v1/meters/sum/query?from=2026-11-20T11:00:00Z&to=2026-11-20T10:00:00Z')).toBe(400);
    expect(await bad('/v1/meters/sum/query?groupBy=planet')).toBe(400);
    expect(await bad('/v1/meters/sum/query?windowSize=WEEK')).toBe(400);
    expect(await bad('/v1/meters/sum/query?windowTimeZone=Mars/Base')).toBe(400);
    expect(await bad('/v1/meters/sum/query?from=last-week')).toBe(400);
    expect(await bad('/v1/customers/acme/usage?period=2026-02-30')).toBe(400);
    expect(await bad('/v1/customers/acme/usage?period=yesterday')).toBe(400);
    expect(await bad('/v1/meters/nope/query')).toBe(404);
    expect(await bad('/v1/customers/nobody/usage')).toBe(404);
  });

  it('reads totals from the rollup projection with wide sums, never from raw rows', async () => {
    const { store } = svc.service;
    const meter = { key: 'sum', aggregation: 'SUM' as const, groupBy: { region: '$.region' } };
    const from = new Date('2026-11-01T00:00:00Z');
    const to = new Date('2026-12-01T00:00:00Z');
    const statements = [
      meterUsageStatement(store, { tenantId: 'default', meter, from, to, windowTimeZone: 'UTC', groupBy: [], bySubject: false }),
      ...(['MINUTE', 'HOUR', 'DAY', 'MONTH'] as const).map((windowSize) =>
        meterUsageStatement(store, {
          tenantId: 'default',
          meter,
          from,
          to,
          windowSize,
          windowTimeZone: 'Asia/Kathmandu',
          subjects: ['s1'],
          groupBy: ['region'],
          bySubject: true,
        }),
      ),
      ...meterTotalsStatements(store, 'default', ['sum', 'max'], ['s1', 's2'], from, to),
      // As the routes run them: read one row past the limit, with the engine-side timeout.
      meterUsageStatement(
        store,
        { tenantId: 'default', meter, from, to, windowSize: 'HOUR', windowTimeZone: 'UTC', groupBy: ['region'], bySubject: true },
        { rowLimit: 10_001, timeoutMs: 10_000 },
      ),
      ...meterTotalsStatements(store, 'default', ['sum', 'max'], ['s1', 's2'], from, to, { groupLimit: 1_001, timeoutMs: 10_000 }),
    ];
    for (const { sql, params } of statements) {
      const plan = await selectRows<{ explain: string }>(store, `EXPLAIN projections = 1 ${sql}`, params);
      const text = plan.map((line) => line.explain).join('\n');
      // The projection that sums in Decimal256: the older one's Decimal(38, 9) sums wrap.
      expect(text, sql).toMatch(/ReadFromMergeTree \(usage_by_minute_wide\)/);
      // Force the point: with the projection required, the same statement still runs.
      await selectRows(store, sql.replace(/SETTINGS /, 'SETTINGS force_optimize_projection = 1, '), params);
    }
    // The rating loop's batched daily maxima need no sum: either minute projection answers them.
    const daily = dailyMaximaStatement(store, { tenantId: 'default', meterKeys: ['max'], subjects: ['s1', 's2'], from, to }, 'Asia/Kathmandu');
    const dailyPlan = await selectRows<{ explain: string }>(store, `EXPLAIN projections = 1 ${daily.sql}`, daily.params);
    expect(dailyPlan.map((line) => line.explain).join('\n'), daily.sql).toMatch(/ReadFromMergeTree \(usage_by_minute(_wide)?\)/);
  });

  it('remembers ids across a restart of the service', async () => {
    await svc.close();
    svc = await startTestService({ now, database });
    key = svc.operatorKey;
    const again = await expectStatus(
      svc.request('POST', '/v1/events', { key, body: EVENTS.map((event) => cloudEvent({ ...event, type: 'usage' })) }),
      202,
    );
    expect(again.body).toEqual({ accepted: 0, duplicates: 5, rejected: [] });
    expect((await query('sum', '?customerId=acme')).map((row) => row.value)).toEqual(['27.5']);
  });
});
