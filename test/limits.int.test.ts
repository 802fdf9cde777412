import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../platform/store.js';
import { cloudEvent, createTenant, expectStatus } from './support/fixtures.js';
import { startTestService, uniqueDatabase, type TestResponse, type TestService } from './support/service.js';

const NOW = Date.parse('2026-11-20T12:00:00Z');
const now = () => NOW;
const MINUTE = 60_000;
const at = (minutes: number) => new Date(Date.parse('2026-11-20T10:00:00Z') + minutes * MINUTE).toISOString();

function expectLimit(response: TestResponse, status: number, limit: string, path: string): void {
  if (response.status !== status) throw new Error(`expected ${status}, got ${response.status}: ${response.text}`);
  expect(response.body.error.code).toBe('limit_exceeded');
  expect(response.body.error.message).toContain(`limit ${limit} =`);
  expect(response.body.error.details).toEqual([{ path, message: response.body.error.message }]);
}

describe('answer limits, through HTTP', () => {
  let svc: TestService;
  let key: string;
  let roomy: string;

  beforeAll(async () => {
    svc = await startTestService({
      now,
      env: {
        METERLINE_MAX_METERS: '3',
        METERLINE_MAX_GROUPS: '3',
        METERLINE_MAX_WINDOWS: '60',
        METERLINE_MAX_ROWS: '5',
        METERLINE_TENANT_LIMITS: JSON.stringify({ roomy: { maxRows: 50 } }),
      },
    });
    key = svc.operatorKey;
    roomy = await createTenant(svc, 'roomy');
    for (const admin of [key, roomy]) {
      await expectStatus(
        svc.request('POST', '/v1/meters', {
          key: admin,
          body: { key: 'calls', name: 'Calls', eventType: 'call', aggregation: 'COUNT', groupBy: { region: '$.region' } },
        }),
        201,
      );
      // Six minutes with events: regions a, b, c on s-small, d on s-big; later, all four on s-wide.
      const events = [0, 1, 2, 3, 4, 5].map((minute) =>
        cloudEvent({ type: 'call', subject: minute < 3 ? 's-small' : 's-big', time: at(minute), data: { region: 'abcd'[Math.min(minute, 3)] } }),
      );
      events.push(...[0, 1, 2, 3].map((index) => cloudEvent({ type: 'call', subject: 's-wide', time: at(100 + index), data: { region: 'abcd'[index] } })));
      await expectStatus(svc.request('POST', '/v1/events', { key: admin, body: events }), 202);
    }
    for (const [id, subject] of [
      ['small', 's-small'],
      ['big', 's-big'],
      ['wide', 's-wide'],
    ] as const) {
      await expectStatus(
        svc.request('POST', '/v1/customers', { key, body: { id, name: id, timezone: 'UTC', currency: 'USD', subjects: [subject] } }),
        201,
      );
    }
  });
  afterAll(async () => svc.close());

  it('defines meters up to the meters limit and refuses the next, naming the limit', async () => {
    for (const name of ['second', 'third']) {
      await expectStatus(svc.request('POST', '/v1/meters', { key, body: { key: name, name, eventType: name, aggregation: 'COUNT' } }), 201);
    }
    const refused = await svc.request('POST', '/v1/meters', { key, body: { key: 'fourth', name: 'fourth', eventType: 'x', aggregation: 'COUNT' } });
    expectLimit(refused, 422, 'maxMeters', 'body.key');
    expect(refused.body.error.message).toContain('METERLINE_MAX_METERS');
    expect((await svc.request('GET', '/v1/meters/fourth', { key })).status).toBe(404);
  });

  it('answers a query of exactly the windows limit and refuses one window more', async () => {
    const ok = await expectStatus(svc.request('GET', `/v1/meters/calls/query?windowSize=MINUTE&from=${at(3)}&to=${at(63)}`, { key }), 200);
    expect(ok.body.data).toHaveLength(3);
    const past = await svc.request('GET', `/v1/meters/calls/query?windowSize=MINUTE&from=${at(3)}&to=${at(64)}`, { key });
    expectLimit(past, 422, 'maxWindows', 'windowSize');
    expect(past.body.error.message).toContain('61 MINUTE windows');
  });

  it('answers exactly the rows limit and refuses an answer one row longer', async () => {
    const ok = await expectStatus(svc.request('GET', `/v1/meters/calls/query?windowSize=MINUTE&from=${at(0)}&to=${at(5)}`, { key }), 200);
    expect(ok.body.data).toHaveLength(5);
    expectLimit(await svc.request('GET', `/v1/meters/calls/query?windowSize=MINUTE&from=${at(0)}&to=${at(6)}`, { key }), 422, 'maxRows', 'from');
  });

  it("applies a tenant's own override instead of the default", async () => {
    const rows = await expectStatus(svc.request('GET', `/v1/meters/calls/query?windowSize=MINUTE&from=${at(0)}&to=${at(6)}`, { key: roomy }), 200);
    expect(rows.body.data).toHaveLength(6);
  });

  it('answers exactly the groups limit and refuses one group more', async () => {
    const ok = await expectStatus(svc.request('GET', `/v1/meters/calls/query?groupBy=region&from=${at(0)}&to=${at(3)}`, { key }), 200);
    expect(ok.body.data.map((row: { groupBy: { region: string } }) => row.groupBy.region)).toEqual(['a', 'b', 'c']);
    expectLimit(await svc.request('GET', `/v1/meters/calls/query?groupBy=region&from=${at(0)}&to=${at(6)}`, { key }), 422, 'maxGroups', 'groupBy');
  });

  it("limits the groups of a customer's usage answer the same way", async () => {
    const small = await expectStatus(svc.request('GET', '/v1/customers/small/usage?period=2026-11-20', { key }), 200);
    expect(small.body.meters.find((meter: { key: string }) => meter.key === 'calls').groupBy).toHaveLength(3);
    expectLimit(await svc.request('GET', '/v1/customers/wide/usage?period=2026-11-20', { key }), 422, 'maxGroups', 'period');
  });

  it('pages every list with limit and an opaque cursor, keeping data, and ends with next null', async () => {
    await expectStatus(
      svc.request('POST', '/v1/plans', {
        key,
        body: { key: 'p1', name: 'P1', currency: 'USD', effectiveFrom: '2026-11-01T00:00:00Z', charges: [{ key: 'calls', meter: 'calls', price: { model: 'unit', unitAmount: '1' } }] },
      }),
      201,
    );
    await expectStatus(
      svc.request('POST', '/v1/plans', {
        key,
        body: { key: 'p2', name: 'P2', currency: 'USD', effectiveFrom: '2026-11-01T00:00:00Z', charges: [{ key: 'calls', meter: 'calls', price: { model: 'unit', unitAmount: '2' } }] },
      }),
      201,
    );
    for (const threshold of ['10', '20']) {
      await expectStatus(svc.request('POST', '/v1/alert-rules', { key, body: { kind: 'spend_threshold', thresholds: [threshold], channels: ['webhook'] } }), 201);
    }
    for (const host of ['a', 'b']) {
      await expectStatus(svc.request('POST', '/v1/webhook-endpoints', { key, body: { url: `https://${host}.example.com/hook` } }), 201);
    }
    const walk = async (path: string, idOf: (item: Record<string, unknown>) => unknown) => {
      const ids: unknown[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const separator = path.includes('?') ? '&' : '?';
        const page: Awaited<ReturnType<typeof expectStatus>> = await expectStatus(
          svc.request('GET', `${path}${separator}limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { key }),
          200,
        );
        expect(page.body.data.length).toBeLessThanOrEqual(2);
        ids.push(...(page.body.data as Array<Record<string, unknown>>).map(idOf));
        cursor = page.body.next as string | null;
        pages += 1;
      } while (cursor !== null);
      return { ids, pages };
    };
    expect(await walk('/v1/meters', (meter) => meter.key)).toEqual({ ids: ['calls', 'second', 'third'], pages: 2 });
    expect(await walk('/v1/customers', (customer) => customer.id)).toEqual({ ids: ['big', 'small', 'wide'], pages: 2 });
    expect(await walk('/v1/plans', (plan) => plan.key)).toEqual({ ids: ['p1', 'p2'], pages: 1 });
    expect((await walk('/v1/alert-rules', (rule) => rule.id)).ids).toHaveLength(2);
    expect((await walk('/v1/webhook-endpoints', (endpoint) => endpoint.url)).ids.sort()).toEqual(['https://a.example.com/hook', 'https://b.example.com/hook']);
    // Without limit the answer still carries every item of a short list under data.
    const all = await expectStatus(svc.request('GET', '/v1/meters', { key }), 200);
    expect(all.body).toEqual({ data: expect.arrayContaining([expect.objectContaining({ key: 'calls' })]), next: null });
    expect(all.body.data).toHaveLength(3);
  });

  it('refuses a page past the rows limit and a cursor it did not give out, naming the field', async () => {
    await expectStatus(svc.request('GET', '/v1/customers?limit=5', { key }), 200);
    expectLimit(await svc.request('GET', '/v1/customers?limit=6', { key }), 422, 'maxRows', 'querystring.limit');
    await expectStatus(svc.request('GET', '/v1/meters?limit=50', { key: roomy }), 200);
    await expectStatus(svc.request('GET', '/v1/alerts?limit=5', { key }), 200);
    expectLimit(await svc.request('GET', '/v1/alerts?limit=6', { key }), 422, 'maxRows', 'querystring.limit');
    const bad = await expectStatus(svc.request('GET', '/v1/meters?cursor=not-ours', { key }), 400);
    expect(bad.body.error.details).toEqual([{ path: 'querystring.cursor', message: expect.stringContaining('cursor') }]);
    const zero = await expectStatus(svc.request('GET', '/v1/plans?limit=0', { key }), 400);
    expect(zero.body.error.details[0].path).toBe('querystring.limit');
  });
});

/**
 * Fills the events table straight from the engine: enough rows that a split of a UNIQUE_COUNT
 * meter by subject takes the engine a noticeable time, for tenants default and solo alike.
 */
async function fillHeavyEvents(store: Store, rows: number): Promise<void> {
  await store.client.command({
    query: `INSERT INTO ${store.table('events')}
      (tenant_id, meter_key, subject, time, event_id, is_raw, type, source, data, ingested_at, value, value_key, group_by)
      SELECT if(number % 2 = 0, 'default', 'solo'), 'users', concat('s', toString(number % 997)),
        toDateTime64('2026-11-01 00:00:00', 3, 'UTC') + toIntervalSecond(number),
        concat('heavy-', toString(number)), 0, 'visit', 'fill', '', now64(3), toDecimal128(1, 9),
        toString(number % 5003), '{}'
      FROM numbers(${rows})`,
  });
}

const HEAVY_QUERY = '/v1/meters/users/query?from=2026-11-01T00:00:00Z&to=2026-11-20T00:00:00Z&windowSize=DAY';
const USERS_METER = { key: 'users', name: 'Users', eventType: 'visit', aggregation: 'UNIQUE_COUNT', valueProperty: '$.user' };

describe('heavy queries, through HTTP', () => {
  const database = uniqueDatabase();
  let svc: TestService;
  let solo: string;

  beforeAll(async () => {
    svc = await startTestService({
      now,
      database,
      env: {
        METERLINE_MAX_HEAVY_QUERIES: '2',
        // Above the process-wide cap, so the first test meets that cap; solo has its own, lower one.
        METERLINE_MAX_HEAVY_QUERIES_PER_TENANT: '3',
        METERLINE_TENANT_LIMITS: JSON.stringify({ solo: { maxHeavyQueries: 1 } }),
      },
    });
    solo = await createTenant(svc, 'solo');
    for (const admin of [svc.operatorKey, solo]) await expectStatus(svc.request('POST', '/v1/meters', { key: admin, body: USERS_METER }), 201);
    await fillHeavyEvents(svc.service.store, 300_000);
    // Warm the key and meter caches, so concurrent requests reach the gate together.
    for (const admin of [svc.operatorKey, solo]) await expectStatus(svc.request('GET', HEAVY_QUERY, { key: admin }), 200);
  }, 120_000);
  afterAll(async () => svc.close());

  it('answers 429 with Retry-After to the query past the cap while the others run, then takes queries again', async () => {
    const answers = await Promise.all([1, 2, 3].map(() => svc.request('GET', HEAVY_QUERY, { key: svc.operatorKey })));
    const statuses = answers.map((answer) => answer.status).sort();
    expect(statuses).toEqual([200, 200, 429]);
    const refused = answers.find((answer) => answer.status === 429) as TestResponse;
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.body.error).toEqual({ code: 'too_many_queries', message: expect.stringContaining('(METERLINE_MAX_HEAVY_QUERIES)') });
    const ok = answers.find((answer) => answer.status === 200) as TestResponse;
    // 150,000 events a tenant, one a second from 1 November: four days.
    expect(ok.body.data).toHaveLength(4);
    await expectStatus(svc.request('GET', HEAVY_QUERY, { key: svc.operatorKey }), 200);
  });

  it("holds one tenant to its own cap without touching another tenant's queries", async () => {
    const [first, second, other] = await Promise.all([
      svc.request('GET', HEAVY_QUERY, { key: solo }),
      svc.request('GET', HEAVY_QUERY, { key: solo }),
      svc.request('GET', HEAVY_QUERY, { key: svc.operatorKey }),
    ]);
    expect([first.status, second.status].sort()).toEqual([200, 429]);
    expect([first, second].find((answer) => answer.status === 429)?.body.error.message).toContain('METERLINE_MAX_HEAVY_QUERIES_PER_TENANT');
    expect(other.status).toBe(200);
  });

  it('keeps /readyz answering ready while heavy queries hold the engine', async () => {
    await expectStatus(svc.request('GET', '/readyz'), 200);
    let heavyDone = false;
    const heavy = Promise.all([svc.request('GET', HEAVY_QUERY, { key: svc.operatorKey }), svc.request('GET', HEAVY_QUERY, { key: solo })]).then(
      (answers) => {
        heavyDone = true;
        return answers;
      },
    );
    const ready = await svc.request('GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(heavyDone).toBe(false);
    expect((await heavy).map((answer) => answer.status)).toEqual([200, 200]);
  });
});

describe('the query timeout, through HTTP', () => {
  let svc: TestService;

  beforeAll(async () => {
    svc = await startTestService({ now, env: { METERLINE_QUERY_TIMEOUT: '1ms' } });
    await expectStatus(svc.request('POST', '/v1/meters', { key: svc.operatorKey, body: USERS_METER }), 201);
    await fillHeavyEvents(svc.service.store, 300_000);
    await expectStatus(
      svc.request('POST', '/v1/customers', { key: svc.operatorKey, body: { id: 'crowd', name: 'Crowd', timezone: 'UTC', currency: 'USD', subjects: Array.from({ length: 997 }, (_, i) => `s${i}`) } }),
      201,
    );
  }, 120_000);
  afterAll(async () => svc.close());

  it('answers a query past the timeout with a clear 504, gives its slot back and keeps serving', async () => {
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const answer = await svc.request('GET', `${HEAVY_QUERY}&groupBy=subject`, { key: svc.operatorKey });
      expect(answer.status).toBe(504);
      expect(answer.body.error).toEqual({ code: 'query_timeout', message: expect.stringContaining('METERLINE_QUERY_TIMEOUT') });
      expect(answer.text).not.toMatch(/at .*\.ts:\d+/);
    }
    const usage = await svc.request('GET', '/v1/customers/crowd/usage?period=2026-11-10', { key: svc.operatorKey });
    expect(usage.status).toBe(504);
    expect(usage.body.error.code).toBe('query_timeout');
    await expectStatus(svc.request('GET', '/v1/meters', { key: svc.operatorKey }), 200);
    await expectStatus(svc.request('GET', '/readyz'), 200);
  });
});

describe('event size limit, through HTTP', () => {
  let svc: TestService;
  let roomy: string;
  // id, type, source and subject of every event below: 4 + 4 + 3 + 4 bytes.
  const base = { id: 'e-01', type: 'size', source: 'src', subject: 'subj' };
  // data is stored as {"pad":"…"}: 10 bytes around the padding.
  const sized = (bytes: number, id = base.id) => cloudEvent({ ...base, id, time: new Date(NOW).toISOString(), data: { pad: 'x'.repeat(bytes - 15 - 10) } });

  beforeAll(async () => {
    svc = await startTestService({
      now,
      env: { METERLINE_MAX_EVENT_SIZE: '200', METERLINE_TENANT_LIMITS: JSON.stringify({ roomy: { maxEventBytes: 400 } }) },
    });
    roomy = await createTenant(svc, 'roomy');
  });
  afterAll(async () => svc.close());

  it('stores an event of exactly the limit and rejects one byte more, naming data, while the rest of the batch is stored', async () => {
    const answer = await expectStatus(
      svc.request('POST', '/v1/events', { key: svc.operatorKey, body: [sized(200, 'e-01'), sized(201, 'e-02'), sized(40, 'e-03')] }),
      202,
    );
    expect(answer.body.accepted).toBe(2);
    expect(answer.body.rejected).toHaveLength(1);
    const [reject] = answer.body.rejected as Array<{ index: number; id: string; errors: Array<{ path: string; message: string }> }>;
    expect(reject?.index).toBe(1);
    expect(reject?.id).toBe('e-02');
    expect(reject?.errors[0]?.path).toBe('data');
    expect(reject?.errors[0]?.message).toContain('the event is 201 bytes');
    expect(reject?.errors[0]?.message).toContain('METERLINE_MAX_EVENT_SIZE');
  });

  it('answers 400 when the only event is over the limit', async () => {
    const answer = await svc.request('POST', '/v1/events', { key: svc.operatorKey, body: sized(5_000, 'e-04') });
    expect(answer.status).toBe(400);
    expect(answer.body.rejected[0].errors[0].path).toBe('data');
  });

  it("holds a tenant to its own override", async () => {
    const answer = await expectStatus(svc.request('POST', '/v1/events', { key: roomy, body: [sized(400, 'e-05'), sized(401, 'e-06')] }), 202);
    expect(answer.body.accepted).toBe(1);
    expect(answer.body.rejected.map((r: { id: string }) => r.id)).toEqual(['e-06']);
  });
});
