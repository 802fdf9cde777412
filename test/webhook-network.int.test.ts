import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, expectStatus } from './support/fixtures.js';
import { startTestService, type TestService } from './support/service.js';

/** Webhook endpoints never point inside: registration over real HTTP, with no network allowed. */
describe('webhook endpoints and internal networks', () => {
  let svc: TestService;
  let admin: string;

  beforeAll(async () => {
    svc = await startTestService();
    admin = await createTenant(svc, 'hooks');
  });
  afterAll(async () => svc.close());

  const register = (url: string) => svc.request('POST', '/v1/webhook-endpoints', { key: admin, body: { url } });

  it.each([
    ['http://127.0.0.1:8080/hooks', 'address 127.0.0.1 is not allowed (loopback)'],
    ['http://localhost:8080/hooks', /^localhost resolves to (127\.0\.0\.1|::1), which is not allowed \(loopback\)$/],
    ['http://[::1]/hooks', 'address ::1 is not allowed (loopback)'],
    ['http://0.0.0.0/hooks', 'address 0.0.0.0 is not allowed (unspecified)'],
    ['http://2130706433/hooks', 'address 127.0.0.1 is not allowed (loopback)'],
    ['http://0x7f.1/hooks', 'address 127.0.0.1 is not allowed (loopback)'],
    ['http://[::ffff:127.0.0.1]/hooks', 'address ::ffff:7f00:1 is not allowed (loopback)'],
    ['http://169.254.169.254/latest/meta-data/', 'address 169.254.169.254 is not allowed (link-local)'],
    ['https://10.0.0.1/hooks', 'address 10.0.0.1 is not allowed (private)'],
    ['https://192.168.1.20/hooks', 'address 192.168.1.20 is not allowed (private)'],
    ['https://[fd00::1]/hooks', 'address fd00::1 is not allowed (unique-local)'],
    ['https://[fe80::1]/hooks', 'address fe80::1 is not allowed (link-local)'],
    ['https://224.0.0.1/hooks', 'address 224.0.0.1 is not allowed (multicast)'],
  ])('refuses %s with a 400 naming url', async (url, reason) => {
    const response = await expectStatus(register(url), 400);
    expect(response.body.error.code).toBe('invalid_request');
    const [detail, ...others] = response.body.error.details as Array<{ path: string; message: string }>;
    expect(others).toEqual([]);
    expect(detail?.path).toBe('url');
    expect(detail?.message.replace(/^url: /, '')).toMatch(reason instanceof RegExp ? reason : new RegExp(`^${reason.replace(/[.()[\]]/g, '\\$&')}$`));
  });

  it('refuses a URL with credentials without echoing them', async () => {
    const response = await expectStatus(register('https://ops:hunter2-secret@hooks.example.com/meterline'), 400);
    const details = response.body.error.details as Array<{ path: string; message: string }>;
    expect(details.map((detail) => detail.path)).toEqual(['body.url']);
    expect(details[0]?.message).toMatch(/may not carry credentials/);
    expect(response.text).not.toContain('hunter2-secret');
  });

  it('accepts a public name, and nothing refused was stored', async () => {
    // The name does not resolve here: accepted, and every delivery checks it again.
    const created = await expectStatus(register('https://hooks.example.com/meterline'), 201);
    const listed = await expectStatus(svc.request('GET', '/v1/webhook-endpoints', { key: admin }), 200);
    expect((listed.body.data as Array<{ id: string; url: string }>).map((endpoint) => endpoint.url)).toEqual(['https://hooks.example.com/meterline']);
    expect(created.body.id).toMatch(/^we_/);
  });
});
