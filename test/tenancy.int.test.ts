import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cloudEvent, createTenant, expectStatus } from './support/fixtures.js';
import { startTestService, type TestService } from './support/service.js';

/** Keys, scopes and tenant isolation on every endpoint, over real HTTP on the real engine. */
describe('tenancy and keys', () => {
  let svc: TestService;
  let adminA: string;
  let adminB: string;
  let ingestA: string;
  let readA: string;
  let readAcme: string;

  const meter = { key: 'calls', name: 'Calls', eventType: 'api.call', aggregation: 'COUNT' };

  beforeAll(async () => {
    svc = await startTestService();
    adminA = await createTenant(svc, 'tenant-a');
    adminB = await createTenant(svc, 'tenant-b');
    await expectStatus(svc.request('POST', '/v1/meters', { key: adminA, body: meter }), 201);
    for (const id of ['acme', 'globex']) {
      await expectStatus(
        svc.request('POST', '/v1/customers', { key: adminA, body: { id, name: id, timezone: 'Europe/Berlin', currency: 'EUR' } }),
        201,
      );
    }
    ingestA = (await expectStatus(svc.request('POST', '/v1/api-keys', { key: adminA, body: { scope: 'ingest' } }), 201)).body.key;
    readA = (await expectStatus(svc.request('POST', '/v1/api-keys', { key: adminA, body: { scope: 'read' } }), 201)).body.key;
    readAcme = (
      await expectStatus(svc.request('POST', '/v1/api-keys', { key: adminA, body: { scope: 'read', customerId: 'acme' } }), 201)
    ).body.key;
    const events = ['acme', 'globex'].flatMap((subject) =>
      Array.from({ length: 3 }, () => cloudEvent({ type: 'api.call', subject })),
    );
    await expectStatus(svc.request('POST', '/v1/events', { key: ingestA, body: events }), 202);
  });
  afterAll(async () => svc.close());

  it('shows a new key once and stores only its hash', async () => {
    const issued = await expectStatus(svc.request('POST', '/v1/api-keys', { key: adminA, body: { scope: 'read' } }), 201);
    expect(issued.body.key).toMatch(/^mlk_[0-9a-f]{24}_[A-Za-z0-9_-]{43}$/);
    const stored = await svc.service.store.client.query({
      query: `SELECT secret_hash FROM ${svc.service.store.table('api_keys')} WHERE key_id = {id:String}`,
      query_params: { id: issued.body.id },
      format: 'JSONEachRow',
    });
    const rows = await stored.json<{ secret_hash: string }>();
    expect(rows).toHaveLength(1);
    expect(rows[0]?.secret_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(rows[0]?.secret_hash).not.toContain(issued.body.key);
    const everything = await svc.service.store.client.query({
      query: `SELECT * FROM ${svc.service.store.table('api_keys')}`,
      format: 'JSONEachRow',
    });
    // The secret is base64url and may itself contain '_': take everything after the key id.
    const secret = /^mlk_[0-9a-f]{24}_(.{43})$/.exec(issued.body.key)?.[1];
    expect(secret).toHaveLength(43);
    expect(await everything.text()).not.toContain(secret);
  });

  it('lets only the operator key create tenants', async () => {
    const byAdmin = await svc.request('POST', '/v1/tenants', { key: adminA, body: { id: 'sneaky', name: 'x' } });
    expect(byAdmin.status).toBe(403);
    const duplicate = await svc.request('POST', '/v1/tenants', { key: svc.operatorKey, body: { id: 'tenant-a', name: 'x' } });
    expect(duplicate.status).toBe(409);
  });

  it("hides one tenant's meters and customers from another (404, never 403)", async () => {
    expect((await svc.request('GET', '/v1/meters', { key: adminB })).body.data).toEqual([]);
    expect((await svc.request('GET', '/v1/meters/calls', { key: adminB })).status).toBe(404);
    expect((await svc.request('GET', '/v1/meters/calls/query', { key: adminB })).status).toBe(404);
    expect((await svc.request('GET', '/v1/customers/acme', { key: adminB })).status).toBe(404);
    expect((await svc.request('GET', '/v1/customers/acme/usage', { key: adminB })).status).toBe(404);
  });

  it("never counts another tenant's events, even with the same subject and ids", async () => {
    await expectStatus(svc.request('POST', '/v1/meters', { key: adminB, body: meter }), 201);
    const same = cloudEvent({ id: 'shared-id', type: 'api.call', subject: 'acme' });
    await expectStatus(svc.request('POST', '/v1/events', { key: adminB, body: same }), 202);
    const inA = await expectStatus(svc.request('POST', '/v1/events', { key: ingestA, body: same }), 202);
    expect(inA.body.accepted).toBe(1);
    const b = await expectStatus(svc.request('GET', '/v1/meters/calls/query', { key: adminB }), 200);
    expect(b.body.data.map((row: { value: string }) => row.value)).toEqual(['1']);
    const a = await expectStatus(svc.request('GET', '/v1/meters/calls/query', { key: adminA }), 200);
    expect(a.body.data.map((row: { value: string }) => row.value)).toEqual(['7']);
  });

  it('lets an ingest key only send events', async () => {
    expect((await svc.request('GET', '/v1/meters', { key: ingestA })).status).toBe(403);
    expect((await svc.request('GET', '/v1/customers/acme', { key: ingestA })).status).toBe(403);
    expect((await svc.request('POST', '/v1/meters', { key: ingestA, body: { ...meter, key: 'x' } })).status).toBe(403);
    expect((await svc.request('POST', '/v1/api-keys', { key: ingestA, body: { scope: 'admin' } })).status).toBe(403);
  });

  it('lets a read key read but not write', async () => {
    expect((await svc.request('GET', '/v1/customers/globex/usage', { key: readA })).status).toBe(200);
    expect((await svc.request('POST', '/v1/events', { key: readA, body: cloudEvent() })).status).toBe(403);
    expect((await svc.request('POST', '/v1/customers', { key: readA, body: {} })).status).toBe(403);
  });

  it('keeps a customer-bound read key to its own customer (403 elsewhere)', async () => {
    expect((await svc.request('GET', '/v1/customers/acme', { key: readAcme })).status).toBe(200);
    expect((await svc.request('GET', '/v1/customers/acme/usage', { key: readAcme })).status).toBe(200);
    expect((await svc.request('GET', '/v1/customers/globex', { key: readAcme })).status).toBe(403);
    expect((await svc.request('GET', '/v1/customers/globex/usage', { key: readAcme })).status).toBe(403);
    expect((await svc.request('GET', '/v1/meters/calls/query?customerId=globex', { key: readAcme })).status).toBe(403);
    expect((await svc.request('GET', '/v1/meters/calls/query?subject=globex', { key: readAcme })).status).toBe(403);
    const own = await expectStatus(svc.request('GET', '/v1/meters/calls/query', { key: readAcme }), 200);
    expect(own.body.data).toEqual([expect.objectContaining({ customerId: 'acme', value: '4' })]);
  });

  it('refuses keys bound to a customer that does not exist or with a scope that cannot be bound', async () => {
    expect((await svc.request('POST', '/v1/api-keys', { key: adminA, body: { scope: 'read', customerId: 'nobody' } })).status).toBe(404);
    expect((await svc.request('POST', '/v1/api-keys', { key: adminA, body: { scope: 'ingest', customerId: 'acme' } })).status).toBe(400);
    expect((await svc.request('POST', '/v1/api-keys', { key: adminA, body: { scope: 'root' } })).status).toBe(400);
  });

  it('answers conflicts for a meter, customer or subject that already exists', async () => {
    expect((await svc.request('POST', '/v1/meters', { key: adminA, body: meter })).status).toBe(409);
    const again = { id: 'acme', name: 'x', timezone: 'UTC', currency: 'USD' };
    expect((await svc.request('POST', '/v1/customers', { key: adminA, body: again })).status).toBe(409);
    const stealer = { id: 'initech', name: 'x', timezone: 'UTC', currency: 'USD', subjects: ['globex'] };
    const conflict = await svc.request('POST', '/v1/customers', { key: adminA, body: stealer });
    expect(conflict.status).toBe(409);
    expect(conflict.body.error.message).toMatch(/globex/);
  });

  it('validates catalog input with a path for each problem', async () => {
    const bad = await svc.request('POST', '/v1/customers', {
      key: adminA,
      body: { id: 'x y', name: '', timezone: 'Mars/Olympus', currency: 'usd', billingAnchorDay: 31 },
    });
    expect(bad.status).toBe(400);
    const paths = bad.body.error.details.map((d: { path: string }) => d.path).sort();
    expect(paths).toEqual(['body.billingAnchorDay', 'body.currency', 'body.id', 'body.name', 'body.timezone']);
    const count = await svc.request('POST', '/v1/meters', {
      key: adminA,
      body: { key: 'c2', name: 'c', eventType: 'e', aggregation: 'COUNT', valueProperty: '$.x' },
    });
    expect(count.status).toBe(400);
    const sum = await svc.request('POST', '/v1/meters', { key: adminA, body: { key: 's2', name: 's', eventType: 'e', aggregation: 'SUM' } });
    expect(sum.status).toBe(400);
    const path = await svc.request('POST', '/v1/meters', {
      key: adminA,
      body: { key: 's3', name: 's', eventType: 'e', aggregation: 'SUM', valueProperty: '$..x' },
    });
    expect(path.status).toBe(400);
    expect(path.body.error.details[0].path).toBe('body.valueProperty');
  });
});
