import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cloudEvent, expectStatus, plus } from './support/fixtures.js';
import { startTestService, type TestService } from './support/service.js';

/** POST /v1/events on the real engine: what is accepted, what is refused, and that nothing else changes. */
describe('ingest', () => {
  let svc: TestService;
  let key: string;

  beforeAll(async () => {
    svc = await startTestService({ env: { METERLINE_MAX_BODY: '64KiB' } });
    key = svc.operatorKey;
    await expectStatus(
      svc.request('POST', '/v1/meters', {
        key,
        body: { key: 'tokens', name: 'Tokens', eventType: 'llm.call', aggregation: 'SUM', valueProperty: '$.tokens' },
      }),
      201,
    );
    await expectStatus(
      svc.request('POST', '/v1/customers', { key, body: { id: 'acme', name: 'Acme', timezone: 'UTC', currency: 'USD' } }),
      201,
    );
  });
  afterAll(async () => svc.close());

  async function total(): Promise<string> {
    const response = await expectStatus(svc.request('GET', '/v1/meters/tokens/query', { key }), 200);
    const rows = response.body.data as Array<{ value: string }>;
    return rows[0]?.value ?? '0';
  }

  async function send(body: unknown, contentType?: string) {
    return svc.request('POST', '/v1/events', { key, body, ...(contentType ? { contentType } : {}) });
  }

  it('accepts one event, a JSON array and NDJSON, with all three CloudEvents media types', async () => {
    const before = await total();
    expect(before).toBe('0');
    const one = await send(cloudEvent({ type: 'llm.call', data: { tokens: '1.5' } }), 'application/cloudevents+json');
    expect(one.status).toBe(202);
    expect(one.body).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
    const batch = await send(
      [cloudEvent({ type: 'llm.call', data: { tokens: 2 } }), cloudEvent({ type: 'llm.call', data: { tokens: '0.25' } })],
      'application/cloudevents-batch+json',
    );
    expect(batch.body).toEqual({ accepted: 2, duplicates: 0, rejected: [] });
    const ndjson = [cloudEvent({ type: 'llm.call', data: { tokens: 10 } }), cloudEvent({ type: 'llm.call', data: { tokens: 100 } })]
      .map((event) => JSON.stringify(event))
      .join('\n');
    const lines = await send(`${ndjson}\n`, 'application/x-ndjson');
    expect(lines.body).toEqual({ accepted: 2, duplicates: 0, rejected: [] });
    expect(await total()).toBe('113.75');
  });

  it('keeps every digit of a large or finely divided number', async () => {
    const before = await total();
    const body = `{"specversion":"1.0","id":"exact-1","type":"llm.call","subject":"acme","data":{"tokens":12345678901234567890.123456789}}`;
    const response = await send(body);
    expect(response.status).toBe(202);
    expect(await total()).toBe(plus(before, '12345678901234567890.123456789'));
    const tooFine = await send(cloudEvent({ type: 'llm.call', data: { tokens: '0.0000000001' } }));
    expect(tooFine.status).toBe(400);
    expect(tooFine.body.rejected[0].errors[0].path).toBe('data.tokens');
  });

  it('answers duplicates within a batch and across batches, and counts them once', async () => {
    const before = await total();
    const a = cloudEvent({ id: 'dup-a', type: 'llm.call', data: { tokens: 5 } });
    const b = cloudEvent({ id: 'dup-b', type: 'llm.call', data: { tokens: 7 } });
    const first = await send([a, b, { ...a, data: { tokens: 999 } }]);
    expect(first.body).toEqual({ accepted: 2, duplicates: 1, rejected: [] });
    const second = await send([b, a]);
    expect(second.status).toBe(202);
    expect(second.body).toEqual({ accepted: 0, duplicates: 2, rejected: [] });
    expect(await total()).toBe(plus(before, 12));
  });

  it('counts concurrent re-sends of the same id once', async () => {
    const before = await total();
    const event = cloudEvent({ id: 'race-1', type: 'llm.call', data: { tokens: 3 } });
    const answers = await Promise.all(Array.from({ length: 8 }, () => send(event)));
    expect(answers.every((answer) => answer.status === 202)).toBe(true);
    expect(answers.reduce((sum, answer) => sum + (answer.body.accepted as number), 0)).toBe(1);
    expect(await total()).toBe(plus(before, 3));
  });

  it('stores an event whose type matches no meter and counts it as accepted', async () => {
    const response = await send(cloudEvent({ type: 'unmetered.thing', data: { anything: true } }));
    expect(response.body).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
  });

  describe('bad input gets its documented answer and changes nothing', () => {
    const now = Date.now();
    const cases: Array<[string, Record<string, unknown>, string, RegExp]> = [
      ['missing id', { id: undefined }, 'id', /required/],
      ['empty id', { id: '' }, 'id', /empty/],
      ['missing type', { type: undefined }, 'type', /required/],
      ['empty subject', { subject: '' }, 'subject', /empty/],
      ['wrong type for subject', { subject: 42 }, 'subject', /required|string/],
      ['bad time', { time: 'yesterday' }, 'time', /RFC 3339/],
      ['impossible date', { time: '2026-02-30T00:00:00Z' }, 'time', /RFC 3339/],
      ['time far in the future', { time: new Date(now + 3600e3).toISOString() }, 'time', /future/],
      ['time before the backfill horizon', { time: new Date(now - 40 * 86400e3).toISOString() }, 'time', /backfill horizon/],
      ['data not an object', { data: [1, 2] }, 'data', /object/],
      ['data a string', { data: 'tokens=5' }, 'data', /object/],
      ['meter value missing', { type: 'llm.call', data: {} }, 'data.tokens', /required by meter tokens/],
      ['meter value not a number', { type: 'llm.call', data: { tokens: 'lots' } }, 'data.tokens', /not a decimal/],
      ['meter value boolean', { type: 'llm.call', data: { tokens: true } }, 'data.tokens', /decimal/],
      ['bad specversion', { specversion: '0.3' }, 'specversion', /1\.0/],
    ];
    for (const [name, overrides, path, message] of cases) {
      it(`rejects ${name}`, async () => {
        const before = await total();
        const event = Object.fromEntries(
          Object.entries(cloudEvent({ type: 'llm.call', data: { tokens: 1 }, ...overrides })).filter(([, value]) => value !== undefined),
        );
        const response = await send(event);
        expect(response.status).toBe(400);
        expect(response.body.accepted).toBe(0);
        expect(response.body.rejected).toHaveLength(1);
        const [rejection] = response.body.rejected;
        expect(rejection.index).toBe(0);
        const error = (rejection.errors as Array<{ path: string; message: string }>).find((e) => e.path === path);
        expect(error, JSON.stringify(rejection.errors)).toBeDefined();
        expect(error?.message).toMatch(message);
        expect(await total()).toBe(before);
      });
    }

    it('accepts the valid events of a mixed batch and lists the rejects by index and id', async () => {
      const before = await total();
      const good = cloudEvent({ type: 'llm.call', data: { tokens: 4 } });
      const bad = cloudEvent({ id: 'bad-one', type: 'llm.call', data: { tokens: 'x' } });
      const response = await send([good, bad, 'not an event']);
      expect(response.status).toBe(202);
      expect(response.body.accepted).toBe(1);
      expect(response.body.rejected.map((r: { index: number; id?: string }) => [r.index, r.id])).toEqual([
        [1, 'bad-one'],
        [2, undefined],
      ]);
        expect(await total()).toBe(plus(before, 4));
    });

    it('rejects one bad NDJSON line and keeps the others', async () => {
      const good = JSON.stringify(cloudEvent({ type: 'llm.call', data: { tokens: 1 } }));
      const response = await send(`${good}\n{not json\n`, 'application/x-ndjson');
      expect(response.status).toBe(202);
      expect(response.body.accepted).toBe(1);
      expect(response.body.rejected[0].index).toBe(1);
      expect(response.body.rejected[0].errors[0].message).toMatch(/line 2 is not valid JSON/);
    });

    it('answers 400 for malformed JSON', async () => {
      const before = await total();
      const response = await send('{"id": "x", ');
      expect(response.status).toBe(400);
      expect(response.body.error.code).toBe('unparseable_body');
      expect(await total()).toBe(before);
    });

    it('answers 400 for an empty batch', async () => {
      const response = await send([]);
      expect(response.status).toBe(400);
      expect(response.body.error.message).toMatch(/no events/);
    });

    it('answers 413 over the body limit', async () => {
      const before = await total();
      const big = Array.from({ length: 2000 }, () => cloudEvent({ type: 'llm.call', data: { tokens: 1, pad: 'x'.repeat(40) } }));
      const response = await send(big);
      expect(response.status).toBe(413);
      expect(response.body.error.code).toBe('body_too_large');
      expect(await total()).toBe(before);
    });

    it('answers 415 for another media type', async () => {
      const response = await send('id=1', 'text/plain');
      expect(response.status).toBe(415);
    });

    it('answers 401 without a key or with a wrong one', async () => {
      const event = cloudEvent({ type: 'llm.call', data: { tokens: 1 } });
      const none = await svc.request('POST', '/v1/events', { body: event });
      expect(none.status).toBe(401);
      const wrong = await svc.request('POST', '/v1/events', { key: 'mlk_000000000000000000000000_' + 'A'.repeat(43), body: event });
      expect(wrong.status).toBe(401);
    });
  });
});
