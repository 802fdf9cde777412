import Fastify from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createLogger } from '../platform/logger.js';
import { installRequestHandling } from './request-handling.js';

/** The error plumbing buildApp installs, on a small app of its own, through fastify's inject. */
describe('error answers', () => {
  const app = Fastify({ loggerInstance: createLogger('silent') }).withTypeProvider<ZodTypeProvider>();

  beforeAll(async () => {
    const methods = installRequestHandling(app);
    const thing = z.object({ name: z.string(), tags: z.array(z.object({ key: z.string() })).default([]) });
    app.post('/things', { schema: { body: thing } }, async (request) => request.body);
    app.get('/things/:id', async () => ({ ok: true }));
    app.delete('/things/:id', async () => ({ ok: true }));
    methods.complete();
    await app.ready();
  });
  afterAll(async () => app.close());

  const post = (payload: string | Buffer) => app.inject({ method: 'POST', url: '/things', headers: { 'content-type': 'application/json' }, payload });

  it('names each unknown field of a body, nested ones by their path', async () => {
    const response = await post(JSON.stringify({ name: 'a', colour: 'red', tags: [{ key: 'k', value: 'v' }] }));
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({
      error: {
        code: 'invalid_request',
        message: 'the request does not match its schema',
        details: [
          { path: 'body.tags.0.value', message: 'unknown field' },
          { path: 'body.colour', message: 'unknown field' },
        ],
      },
    });
    expect((await post(JSON.stringify({ name: 'a' }))).json()).toEqual({ name: 'a', tags: [] });
  });

  it('refuses invalid UTF-8, deep nesting and lone surrogates before validation', async () => {
    expect((await post(Buffer.from([0x7b, 0x22, 0x6e, 0xff, 0x22, 0x3a, 0x31, 0x7d]))).json()).toEqual({
      error: { code: 'unparseable_body', message: 'the body is not valid UTF-8' },
    });
    const deep = await post(`{"name":${'['.repeat(65)}${']'.repeat(65)}}`);
    expect(deep.json()).toEqual({ error: { code: 'unparseable_body', message: 'arrays and objects nest deeper than 64 levels' } });
    const lone = await post('{"name":"a\\ud800","tags":[]}');
    expect(lone.statusCode).toBe(400);
    expect(lone.json().error.details).toEqual([
      { path: 'body.name', message: 'holds a lone UTF-16 surrogate (an unpaired \\ud800-\\udfff escape), which cannot be stored' },
    ]);
    expect((await post('{"name":"a \\ud83d\\ude00"}')).json()).toEqual({ name: 'a 😀', tags: [] });
  });

  it("keeps fastify's answers to empty bodies and prototype poisoning in the same shape", async () => {
    const empty = await post('');
    expect(empty.statusCode).toBe(400);
    expect(empty.json().error.code).toBe('unparseable_body');
    const poisoned = await post('{"name":"a","__proto__":{"admin":true}}');
    expect(poisoned.statusCode).toBe(400);
    expect(Object.keys(poisoned.json())).toEqual(['error']);
  });

  it('answers 404 for unknown routes and 405 with Allow for a known path', async () => {
    const missing = await app.inject({ method: 'GET', url: '/nowhere?q=1' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({ error: { code: 'not_found', message: 'no route GET /nowhere' } });
    const wrong = await app.inject({ method: 'PATCH', url: '/things/7', headers: { 'content-type': 'text/plain' }, payload: 'x' });
    expect(wrong.statusCode).toBe(405);
    expect(wrong.headers.allow).toBe('GET, HEAD, DELETE');
    expect(wrong.json().error.code).toBe('method_not_allowed');
    const list = await app.inject({ method: 'GET', url: '/things' });
    expect(list.statusCode).toBe(405);
    expect(list.headers.allow).toBe('POST');
  });
});
