import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cloudEvent, expectStatus } from './support/fixtures.js';
import { startTestService, type TestService } from './support/service.js';

/** Health, readiness, metrics and the API document of a running service. */
describe('operations endpoints', () => {
  let svc: TestService;

  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => svc.close());

  it('answers health and readiness without a key', async () => {
    expect((await svc.request('GET', '/healthz')).body).toEqual({ status: 'ok' });
    expect((await svc.request('GET', '/readyz')).body).toEqual({ status: 'ready' });
  });

  it('counts ingest outcomes and request latency in Prometheus format, with no tenant or customer label', async () => {
    const key = svc.operatorKey;
    await expectStatus(
      svc.request('POST', '/v1/meters', { key, body: { key: 'n', name: 'n', eventType: 'x', aggregation: 'COUNT' } }),
      201,
    );
    const ok = cloudEvent({ type: 'x', subject: 'customer-42' });
    await expectStatus(svc.request('POST', '/v1/events', { key, body: [ok, ok, cloudEvent({ type: 'x', id: '' })] }), 202);
    const metrics = await svc.request('GET', '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toMatch(/text\/plain/);
    expect(metrics.text).toMatch(/^meterline_ingest_events_total\{outcome="accepted"\} 1$/m);
    expect(metrics.text).toMatch(/^meterline_ingest_events_total\{outcome="duplicate"\} 1$/m);
    expect(metrics.text).toMatch(/^meterline_ingest_events_total\{outcome="rejected"\} 1$/m);
    expect(metrics.text).toMatch(/meterline_http_request_duration_seconds_bucket\{[^}]*route="\/v1\/events"[^}]*status_class="2xx"/);
    expect(metrics.text).toMatch(/^meterline_aggregator_insert_batch_events_count \d+$/m);
    expect(metrics.text).toMatch(/^meterline_process_resident_memory_bytes /m);
    expect(metrics.text).not.toContain('customer-42');
    expect(metrics.text).not.toMatch(/tenant/);
  });

  it('serves the OpenAPI document built from the request schemas, and its UI', async () => {
    const document = await svc.request('GET', '/docs/json');
    expect(document.status).toBe(200);
    expect(document.body.openapi).toMatch(/^3\./);
    for (const path of ['/v1/events', '/v1/meters', '/v1/meters/{key}/query', '/v1/customers', '/v1/customers/{id}/usage', '/v1/api-keys', '/v1/tenants']) {
      expect(Object.keys(document.body.paths)).toContain(path);
    }
    const meterBody = document.body.paths['/v1/meters'].post.requestBody.content['application/json'].schema;
    expect(meterBody.properties.aggregation.enum).toContain('UNIQUE_COUNT');
    const ui = await svc.request('GET', '/docs/');
    expect(ui.status).toBe(200);
    expect(ui.text).toMatch(/swagger/i);
  });
});
