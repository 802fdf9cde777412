import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cloudEvent, createTenant, expectStatus } from './support/fixtures.js';
import { startTestService, type TestService } from './support/service.js';

/** Bad input over real HTTP on the real engine: a clear 4xx in one shape, felt only by its sender. */
describe('bad input', () => {
  let svc: TestService;
  let key: string;
  let otherKey: string;

  beforeAll(async () => {
    svc = await startTestService({ env: { METERLINE_MAX_BODY: '256KiB' } });
    key = svc.operatorKey;
    otherKey = await createTenant(svc, 'other-msp');
    for (const admin of [key, otherKey]) {
      await expectStatus(
        svc.request('POST', '/v1/meters', {
          key: admin,
          body: { key: 'tokens', name: 'Tokens', eventType: 'llm.call', aggregation: 'SUM', valueProperty: '$.tokens' },
        }),
        201,
      );
    }
  });
  afterAll(async () => svc?.close());

  async function total(admin: string): Promise<string> {
    const response = await expectStatus(svc.request('GET', '/v1/meters/tokens/query', { key: admin }), 200);
    return (response.body.data[0]?.value as string | undefined) ?? '0';
  }

  function expectErrorShape(body: unknown, code: string): void {
    expect(body).toMatchObject({ error: { code, message: expect.any(String) as string } });
    expect(Object.keys((body as { error: object }).error).sort()).toEqual(expect.arrayContaining(['code', 'message']));
  }

  describe('lone UTF-16 surrogates', () => {
    it.each([
      ['id', { id: 'x\ud800' }],
      ['subject', { subject: 'acme\udc00' }],
      ['type', { type: 'llm.call\ud800' }],
      ['source', { source: '\udfff' }],
      ['data.model', { data: { tokens: '1', model: 'big\ud800' } }],
    ])('in %s get 400 for that event, naming the path', async (path, overrides) => {
      // JSON.stringify writes the lone half as the escape "\ud8xx", as any client would.
      const response = await svc.request('POST', '/v1/events', { key, body: cloudEvent({ type: 'llm.call', ...overrides }) });
      expect(response.status).toBe(400);
      expect(response.body.rejected).toEqual([
        expect.objectContaining({ index: 0, errors: [{ path, message: expect.stringContaining('lone UTF-16 surrogate') as string }] }),
      ]);
    });

    it('in a key inside data, and only that event of a batch is refused', async () => {
      const before = await total(key);
      const body = [
        cloudEvent({ type: 'llm.call', data: { tokens: '2' } }),
        cloudEvent({ type: 'llm.call', data: { tokens: '3', tags: { ['k\ud800']: 'v' } } }),
      ];
      const response = await expectStatus(svc.request('POST', '/v1/events', { key, body }), 202);
      expect(response.body).toMatchObject({ accepted: 1, rejected: [{ index: 1, errors: [{ path: 'data.tags' }] }] });
      expect(response.body.rejected[0].errors[0].message).toContain('"k\\ud800"');
      expect(Number(await total(key)) - Number(before)).toBe(2);
    });

    it("never reach the insert another tenant's concurrent posts share: theirs get 202, the bad ones 400", async () => {
      const before = await total(otherKey);
      const good = Array.from({ length: 40 }, (_, index) =>
        svc.request('POST', '/v1/events', { key: otherKey, body: cloudEvent({ type: 'llm.call', data: { tokens: String(index + 1) } }) }),
      );
      const bad = Array.from({ length: 10 }, (_, index) =>
        svc.request('POST', '/v1/events', {
          key,
          body: [cloudEvent({ type: 'llm.call', id: `poison-${index}\ud800`, data: { tokens: '1' } })],
        }),
      );
      const [goodAnswers, badAnswers] = await Promise.all([Promise.all(good), Promise.all(bad)]);
      expect(goodAnswers.map((answer) => answer.status)).toEqual(Array(40).fill(202));
      expect(badAnswers.map((answer) => answer.status)).toEqual(Array(10).fill(400));
      expect(Number(await total(otherKey)) - Number(before)).toBe((40 * 41) / 2);
    });

    it('in catalog names get 400 naming the field, not 500', async () => {
      const meter = await svc.request('POST', '/v1/meters', {
        key,
        body: { key: 'calls', name: 'Calls\ud800', eventType: 'api.call', aggregation: 'COUNT' },
      });
      expect(meter.status).toBe(400);
      expect(meter.body.error).toMatchObject({ code: 'invalid_request', details: [{ path: 'body.name' }] });
      const customer = await svc.request('POST', '/v1/customers', {
        key,
        body: { id: 'c1', name: 'C', timezone: 'UTC', currency: 'USD', subjects: ['ok', 's\udc00'] },
      });
      expect(customer.status).toBe(400);
      expect(customer.body.error.details).toEqual([{ path: 'body.subjects.1', message: expect.stringContaining('lone UTF-16 surrogate') as string }]);
      const tenant = await svc.request('POST', '/v1/tenants', { key, body: { id: 'surrogate-msp', name: '\ud800' } });
      expect(tenant.status).toBe(400);
    });
  });

  describe('bytes and nesting', () => {
    async function post(path: string, body: Buffer, contentType = 'application/json') {
      const response = await fetch(`${svc.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': contentType },
        body,
      });
      return { status: response.status, body: (await response.json()) as { error: { code: string; message: string } } };
    }

    it('invalid UTF-8 gets 400 rather than a U+FFFD that makes two ids one', async () => {
      for (const byte of [0xfe, 0xff]) {
        const body = Buffer.concat([Buffer.from('{"id":"dup-'), Buffer.from([byte]), Buffer.from('","type":"llm.call","subject":"acme","data":{"tokens":"1"}}')]);
        const response = await post('/v1/events', body);
        expect(response.status).toBe(400);
        expect(response.body.error).toEqual({ code: 'unparseable_body', message: 'the body is not valid UTF-8' });
      }
      const meter = await post('/v1/meters', Buffer.from([0x7b, 0x22, 0x6b, 0xc3, 0x22, 0x7d]));
      expect(meter).toEqual({ status: 400, body: { error: { code: 'unparseable_body', message: 'the body is not valid UTF-8' } } });
    });

    it('JSON nested 5,000 levels gets 400 naming the 64-level limit, on events and other routes', async () => {
      const deep = `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`;
      const event = await post('/v1/events', Buffer.from(`{"id":"deep","type":"llm.call","subject":"acme","data":${deep}}`));
      expect(event.status).toBe(400);
      expect(event.body.error).toEqual({ code: 'unparseable_body', message: 'the body is not valid JSON: arrays and objects nest deeper than 64 levels' });
      const batch = await post('/v1/events', Buffer.from(`${'['.repeat(5000)}${']'.repeat(5000)}`));
      expect(batch.status).toBe(400);
      const meter = await post('/v1/meters', Buffer.from(deep));
      expect(meter).toEqual({ status: 400, body: { error: { code: 'unparseable_body', message: 'arrays and objects nest deeper than 64 levels' } } });
    });
  });

  describe('ids', () => {
    it.each([
      ['only spaces', '   ', 'must not be only whitespace'],
      ['a NUL', 'evt\u0000', 'must not hold control characters (NUL, U+0001-U+001F, U+007F-U+009F)'],
      ['a newline', 'evt\n2', 'must not hold control characters (NUL, U+0001-U+001F, U+007F-U+009F)'],
    ])('holding %s are rejected', async (_what, id, message) => {
      const response = await svc.request('POST', '/v1/events', { key, body: cloudEvent({ type: 'llm.call', id, data: { tokens: '1' } }) });
      expect(response.status).toBe(400);
      expect(response.body.rejected[0].errors).toEqual([{ path: 'id', message }]);
    });
  });

  describe('strict create bodies', () => {
    it('refuse an API key body with an unknown field instead of minting an admin key', async () => {
      const response = await svc.request('POST', '/v1/api-keys', { key: otherKey, body: { scope: 'admin', operator: true } });
      expect(response.status).toBe(400);
      expect(response.body).toEqual({
        error: { code: 'invalid_request', message: 'the request does not match its schema', details: [{ path: 'body.operator', message: 'unknown field' }] },
      });
    });

    it('name unknown fields of meters, customers, plans and alert rules, nested ones by their path', async () => {
      const meter = await svc.request('POST', '/v1/meters', {
        key,
        body: { key: 'calls', name: 'Calls', eventType: 'api.call', aggregation: 'COUNT', agregation: 'SUM' },
      });
      expect(meter.status).toBe(400);
      expect(meter.body.error.details).toEqual([{ path: 'body.agregation', message: 'unknown field' }]);
      const customer = await svc.request('POST', '/v1/customers', {
        key,
        body: { id: 'c2', name: 'C', timezone: 'UTC', currency: 'USD', creditLimit: '100' },
      });
      expect(customer.body.error.details).toEqual([{ path: 'body.creditLimit', message: 'unknown field' }]);
      const plan = await svc.request('POST', '/v1/plans', {
        key,
        body: { key: 'p', name: 'P', currency: 'USD', charges: [{ key: 'c', meter: 'tokens', price: { model: 'unit', unitAmount: '1' }, prorate: 'daily' }] },
      });
      expect(plan.status).toBe(400);
      expect(plan.body.error.details).toEqual([{ path: 'body.charges.0.prorate', message: 'unknown field' }]);
      const ok = await svc.request('POST', '/v1/meters', { key, body: { key: 'calls', name: 'Calls', eventType: 'api.call', aggregation: 'COUNT' } });
      expect(ok.status).toBe(201);
    });

    it('show as closed objects in the OpenAPI document', async () => {
      const document = await expectStatus(svc.request('GET', '/docs/json'), 200);
      const schemaOf = (path: string) => document.body.paths[path].post.requestBody.content['application/json'].schema;
      expect(schemaOf('/v1/api-keys')).toMatchObject({ additionalProperties: false });
      expect(schemaOf('/v1/plans').properties.charges.items).toMatchObject({ additionalProperties: false });
    });
  });

  describe('one error shape everywhere', () => {
    it('404 for an unknown route', async () => {
      const response = await svc.request('GET', '/v1/nothing-here?x=1', { key });
      expect(response.status).toBe(404);
      expect(response.body).toEqual({ error: { code: 'not_found', message: 'no route GET /v1/nothing-here' } });
      const badUrl = await svc.request('GET', '/v1/meters/%E0%A4%A', { key });
      expect(badUrl.status).toBe(400);
      expectErrorShape(badUrl.body, 'bad_request');
    });

    it('405 with Allow for a known path and the wrong method, before auth and body parsing', async () => {
      const response = await svc.request('DELETE', '/v1/meters');
      expect(response.status).toBe(405);
      expect(response.headers.get('allow')).toBe('GET, HEAD, POST');
      expectErrorShape(response.body, 'method_not_allowed');
      const withParam = await svc.request('PUT', '/v1/meters/tokens', { body: 'x', contentType: 'text/plain' });
      expect(withParam.status).toBe(405);
      expect(withParam.headers.get('allow')).toBe('GET, HEAD');
      const events = await svc.request('GET', '/v1/events', { key });
      expect(events.status).toBe(405);
      expect(events.headers.get('allow')).toBe('POST');
    });

    it('413 over the body limit and 415 for a media type a route does not read', async () => {
      const big = await svc.request('POST', '/v1/events', { key, body: JSON.stringify({ pad: 'x'.repeat(300 * 1024) }) });
      expect(big.status).toBe(413);
      expectErrorShape(big.body, 'body_too_large');
      const text = await svc.request('POST', '/v1/events', { key, body: 'hello', contentType: 'text/plain' });
      expect(text.status).toBe(415);
      expectErrorShape(text.body, 'unsupported_media_type');
      const form = await svc.request('POST', '/v1/meters', { key, body: 'a=1', contentType: 'application/x-www-form-urlencoded' });
      expect(form.status).toBe(415);
      expectErrorShape(form.body, 'unsupported_media_type');
    });

    it('431 for request headers over the limit, from node before fastify, in the same shape', async () => {
      const port = new URL(svc.url).port;
      const answer = await new Promise<{ status: number; type: string | undefined; body: string }>((resolve, reject) => {
        const request = httpRequest(
          { host: '127.0.0.1', port, path: '/v1/meters', method: 'GET', headers: { 'x-filler': 'y'.repeat(20 * 1024) } },
          (response) => {
            let body = '';
            response.setEncoding('utf8');
            response.on('data', (chunk: string) => (body += chunk));
            response.on('end', () => resolve({ status: response.statusCode ?? 0, type: response.headers['content-type'], body }));
          },
        );
        request.on('error', reject);
        request.end();
      });
      expect(answer.status).toBe(431);
      expect(answer.type).toMatch(/^application\/json/);
      expectErrorShape(JSON.parse(answer.body), 'headers_too_large');
    });
  });
});
