import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cloudEvent, expectStatus, plus } from './support/fixtures.js';
import { faultyStore } from './support/faulty-store.js';
import { startTestService, type TestService } from './support/service.js';

/** The store failing under the writer: nothing accepted is lost, nothing is counted twice. */
describe('store faults during ingest', () => {
  let svc: TestService;
  let faults: ReturnType<typeof faultyStore>;

  beforeAll(async () => {
    svc = await startTestService({
      wrapStore: (store) => {
        faults = faultyStore(store);
        return faults.store;
      },
    });
    await expectStatus(
      svc.request('POST', '/v1/meters', {
        key: svc.operatorKey,
        body: { key: 'gb', name: 'GB', eventType: 'transfer', aggregation: 'SUM', valueProperty: '$.gb' },
      }),
      201,
    );
  });
  afterAll(async () => svc.close());

  const total = async () => {
    const response = await expectStatus(svc.request('GET', '/v1/meters/gb/query', { key: svc.operatorKey }), 200);
    return (response.body.data[0]?.value as string | undefined) ?? '0';
  };
  const send = (events: unknown[]) => svc.request('POST', '/v1/events', { key: svc.operatorKey, body: events });

  it('retries a failed insert and accepts the batch', async () => {
    const before = await total();
    const attempts = faults.eventInserts;
    faults.inject('fail-before', 'fail-before');
    const response = await send([cloudEvent({ type: 'transfer', data: { gb: '1.25' } })]);
    expect(response.status).toBe(202);
    expect(response.body.accepted).toBe(1);
    expect(faults.eventInserts - attempts).toBe(3);
    expect(await total()).toBe(plus(before, '1.25'));
  });

  it('does not double-count when an insert was written but its answer was lost', async () => {
    const before = await total();
    faults.inject('fail-after-write');
    const events = Array.from({ length: 50 }, () => cloudEvent({ type: 'transfer', data: { gb: '2' } }));
    const response = await send(events);
    expect(response.status).toBe(202);
    expect(response.body.accepted).toBe(50);
    expect(await total()).toBe(plus(before, '100'));
  });

  it('answers 503 with Retry-After when the store stays down, and accepts the re-send once it is back', async () => {
    const before = await total();
    const events = Array.from({ length: 10 }, () => cloudEvent({ type: 'transfer', data: { gb: '0.5' } }));
    faults.setDown(true);
    const refused = await send(events);
    faults.setDown(false);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('5');
    expect(await total()).toBe(before);
    const retried = await send(events);
    expect(retried.status).toBe(202);
    expect(retried.body).toEqual({ accepted: 10, duplicates: 0, rejected: [] });
    expect(await total()).toBe(plus(before, '5'));
  });

  it('answers a re-send after an ambiguous refusal with duplicates, never a second count', async () => {
    const before = await total();
    const events = Array.from({ length: 4 }, () => cloudEvent({ type: 'transfer', data: { gb: '3' } }));
    // Every attempt writes and then fails: the client is told 503 although the batch is stored.
    faults.inject('fail-after-write', 'fail-after-write', 'fail-after-write', 'fail-after-write');
    const refused = await send(events);
    expect(refused.status).toBe(503);
    const retried = await send(events);
    expect(retried.body).toEqual({ accepted: 0, duplicates: 4, rejected: [] });
    expect(await total()).toBe(plus(before, '12'));
  });

  it('reports the store in /readyz', async () => {
    expect((await svc.request('GET', '/readyz')).status).toBe(200);
  });
});
