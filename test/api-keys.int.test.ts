import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectRows } from '../platform/store.js';
import { createTenant, expectStatus } from './support/fixtures.js';
import { waitFor } from './support/process.js';
import { startTestService, type TestService } from './support/service.js';

interface KeyShown {
  id: string;
  scope: string;
  customerId?: string;
  operator: boolean;
  createdAt: string;
  lastUsedAt?: string;
  expiresAt?: string;
  revokedAt?: string;
  status: string;
}

/** Listing, revoking and expiring keys over real HTTP on the real engine, in one process and across two. */
describe('API keys', () => {
  let svc: TestService;
  let admin: string;
  let otherAdmin: string;

  beforeAll(async () => {
    svc = await startTestService();
    admin = await createTenant(svc, 'keys-a');
    otherAdmin = await createTenant(svc, 'keys-b');
    await expectStatus(svc.request('POST', '/v1/customers', { key: admin, body: { id: 'acme', name: 'Acme', timezone: 'UTC', currency: 'USD' } }), 201);
  });
  afterAll(async () => svc.close());

  const issue = async (body: Record<string, unknown>, key = admin) =>
    (await expectStatus(svc.request('POST', '/v1/api-keys', { key, body }), 201)).body as { id: string; key: string; expiresAt?: string };
  const list = async (key = admin) => (await expectStatus(svc.request('GET', '/v1/api-keys', { key }), 200)).body.data as KeyShown[];
  const meters = (key: string) => svc.request('GET', '/v1/meters', { key });

  it("lists the tenant's keys with scope, customer, created and last used, never their secrets", async () => {
    const reader = await issue({ scope: 'read', customerId: 'acme' });
    const ingest = await issue({ scope: 'ingest' });
    await expectStatus(meters(reader.key), 200);

    const shown = await list();
    const byId = new Map(shown.map((key) => [key.id, key]));
    expect(byId.get(reader.id)).toMatchObject({ scope: 'read', customerId: 'acme', operator: false, status: 'active' });
    expect(Date.parse(byId.get(reader.id)?.lastUsedAt ?? '')).toBeGreaterThan(Date.now() - 60_000);
    expect(byId.get(ingest.id)).toMatchObject({ scope: 'ingest', status: 'active' });
    expect(byId.get(ingest.id)?.lastUsedAt).toBeUndefined();
    // The admin key that listed them was used too.
    expect(shown.find((key) => key.scope === 'admin')?.lastUsedAt).toBeDefined();
    const text = JSON.stringify(shown);
    expect(text).not.toContain(reader.key);
    expect(text).not.toMatch(/secret|hash/i);

    expect((await list(otherAdmin)).map((key) => key.id)).not.toContain(reader.id);
    await expectStatus(svc.request('GET', '/v1/api-keys', { key: reader.key }), 403);
    await expectStatus(svc.request('GET', '/v1/api-keys'), 401);
  });

  it('revokes a key: 401 at once, listed as revoked, idempotent, and only by its own tenant', async () => {
    const doomed = await issue({ scope: 'read' });
    await expectStatus(meters(doomed.key), 200);
    await expectStatus(svc.request('DELETE', `/v1/api-keys/${doomed.id}`, { key: otherAdmin }), 404);
    await expectStatus(meters(doomed.key), 200);

    await expectStatus(svc.request('DELETE', `/v1/api-keys/${doomed.id}`, { key: admin }), 204);
    const refused = await expectStatus(meters(doomed.key), 401);
    expect(refused.body.error).toEqual({ code: 'unauthorized', message: 'the API key was revoked' });
    const shown = (await list()).find((key) => key.id === doomed.id);
    expect(shown).toMatchObject({ status: 'revoked', scope: 'read' });
    expect(Date.parse(shown?.revokedAt ?? '')).toBeGreaterThan(Date.now() - 60_000);

    await expectStatus(svc.request('DELETE', `/v1/api-keys/${doomed.id}`, { key: admin }), 204);
    expect((await list()).find((key) => key.id === doomed.id)?.revokedAt).toBe(shown?.revokedAt);
    await expectStatus(svc.request('DELETE', '/v1/api-keys/000000000000000000000000', { key: admin }), 404);
    await expectStatus(svc.request('DELETE', `/v1/api-keys/${doomed.id}`, { key: doomed.key }), 401);
  });

  it("keeps a tenant's last working admin key, so the tenant can always issue keys", async () => {
    const lone = await createTenant(svc, 'keys-lone');
    const loneId = ((await list(lone)).find((key) => key.scope === 'admin') as KeyShown).id;
    const refused = await expectStatus(svc.request('DELETE', `/v1/api-keys/${loneId}`, { key: lone }), 409);
    expect(refused.body.error.message).toMatch(/last working admin key/);
    const successor = await issue({ scope: 'admin' }, lone);
    await expectStatus(svc.request('DELETE', `/v1/api-keys/${loneId}`, { key: successor.key }), 204);
    await expectStatus(meters(lone), 401);
    await expectStatus(svc.request('DELETE', `/v1/api-keys/${successor.id}`, { key: successor.key }), 409);
    await expectStatus(meters(successor.key), 200);
  });

  it('never revokes the operator key (it is replaced through METERLINE_ADMIN_KEY)', async () => {
    const response = await expectStatus(svc.request('DELETE', '/v1/api-keys/operator', { key: svc.operatorKey }), 409);
    expect(response.body.error.message).toMatch(/METERLINE_ADMIN_KEY/);
    await expectStatus(meters(svc.operatorKey), 200);
    expect((await list(svc.operatorKey)).find((key) => key.id === 'operator')).toMatchObject({ operator: true, scope: 'admin' });
  });

  it('lets a key expire at its expiresAt, and refuses one that would never be valid', async () => {
    const expiresAt = new Date(Date.now() + 1_500).toISOString();
    const shortLived = await issue({ scope: 'read', expiresAt });
    expect(shortLived.expiresAt).toBe(expiresAt);
    await expectStatus(meters(shortLived.key), 200);
    await waitFor(async () => ((await meters(shortLived.key)).status === 401 ? true : undefined), 'the key to expire', 10_000);
    expect((await meters(shortLived.key)).body.error.message).toBe(`the API key expired at ${expiresAt}`);
    // A key that is not one of ours learns nothing more.
    const tampered = `${shortLived.key.slice(0, -4)}${shortLived.key.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
    expect((await meters(tampered)).body.error.message).toBe('the API key is not valid');
    expect((await list()).find((key) => key.id === shortLived.id)).toMatchObject({ status: 'expired', expiresAt });

    const past = await expectStatus(svc.request('POST', '/v1/api-keys', { key: admin, body: { scope: 'read', expiresAt: '2020-01-01T00:00:00Z' } }), 400);
    expect(past.body.error.details).toEqual([{ path: 'expiresAt', message: 'expiresAt must be a future RFC 3339 date-time' }]);
    const malformed = await expectStatus(svc.request('POST', '/v1/api-keys', { key: admin, body: { scope: 'read', expiresAt: 'tomorrow' } }), 400);
    expect(malformed.body.error.details.map((detail: { path: string }) => detail.path)).toEqual(['body.expiresAt']);
  });
});

describe('API keys across processes', () => {
  let first: TestService;
  let second: TestService;

  beforeAll(async () => {
    // Key uses wait a minute in the first process: long enough that only its close writes them.
    first = await startTestService({ env: { METERLINE_ROLES: 'api,aggregator' }, keyUseFlushMs: 60_000 });
    second = await startTestService({ database: first.database, env: { METERLINE_ROLES: 'api,aggregator', METERLINE_CATALOG_CACHE_TTL: '1s' } });
  });
  afterAll(async () => {
    await second.close();
    await first.close();
  });

  it('a key revoked in one process answers 401 in another within the cache time', async () => {
    const admin = await createTenant(first, 'keys-c');
    const reader = (await expectStatus(first.request('POST', '/v1/api-keys', { key: admin, body: { scope: 'read' } }), 201)).body as { id: string; key: string };
    await expectStatus(second.request('GET', '/v1/meters', { key: reader.key }), 200);

    await expectStatus(first.request('DELETE', `/v1/api-keys/${reader.id}`, { key: admin }), 204);
    await expectStatus(first.request('GET', '/v1/meters', { key: reader.key }), 401);
    const revokedAt = Date.now();
    await waitFor(async () => ((await second.request('GET', '/v1/meters', { key: reader.key })).status === 401 ? true : undefined), 'the other process to refuse the key', 10_000);
    // METERLINE_CATALOG_CACHE_TTL=1s there, plus the time of one request.
    expect(Date.now() - revokedAt).toBeLessThan(3_000);
  });

  it('writes the last use of keys in one batch, not once per request, and flushes it at shutdown', async () => {
    const admin = await createTenant(first, 'keys-d');
    const busy = (await expectStatus(first.request('POST', '/v1/api-keys', { key: admin, body: { scope: 'read' } }), 201)).body as { id: string; key: string };
    for (let n = 0; n < 25; n += 1) await expectStatus(first.request('GET', '/v1/meters', { key: busy.key }), 200);
    const rows = async () =>
      Number(
        (
          await selectRows<{ n: string }>(second.service.store, `SELECT count() AS n FROM ${second.service.store.table('api_key_usage')} WHERE key_id = {keyId:String}`, {
            keyId: busy.id,
          })
        )[0]?.n ?? 0,
      );
    const shownBy = async (service: TestService) =>
      ((await expectStatus(service.request('GET', '/v1/api-keys', { key: admin }), 200)).body.data as KeyShown[]).find((key) => key.id === busy.id);

    // The process that saw the uses shows them at once; nothing is written yet.
    expect((await shownBy(first))?.lastUsedAt).toBeDefined();
    expect(await rows()).toBe(0);
    expect((await shownBy(second))?.lastUsedAt).toBeUndefined();

    await first.close();
    expect(await rows()).toBe(1);
    expect(Date.parse((await shownBy(second))?.lastUsedAt ?? '')).toBeGreaterThan(Date.now() - 60_000);
  });
});
