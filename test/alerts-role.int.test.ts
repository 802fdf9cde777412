import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cloudEvent, expectStatus } from './support/fixtures.js';
import { waitFor } from './support/process.js';
import { startWebhookReceiver, type WebhookReceiver } from './support/receivers.js';
import { LOOPBACK_RECEIVERS, startTestService, uniqueDatabase, type TestService } from './support/service.js';

const BROKERS = process.env.METERLINE_TEST_KAFKA_BROKERS ?? '127.0.0.1:9092';

/**
 * The alerts role as a service of its own (scale-out mode), beside one running the other roles
 * on the same store: it learns of new figures only from the store, never from a rater beside it.
 * (Both run in the test process: the embedded engine binds its directory to one process.)
 */
describe('the alerts role on its own', () => {
  let pipeline: TestService;
  let alerts: TestService;
  let receiver: WebhookReceiver;
  const suffix = randomBytes(4).toString('hex');
  const database = uniqueDatabase();
  const kafka = {
    KAFKA_BROKERS: BROKERS,
    KAFKA_TOPIC: `alerts-role-${suffix}`,
    KAFKA_DLQ_TOPIC: `alerts-role-dlq-${suffix}`,
    KAFKA_GROUP_ID: `alerts-role-${suffix}`,
    KAFKA_PARTITIONS: '2',
    METERLINE_AGGREGATOR_MAX_WAIT: '50ms',
  };

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    pipeline = await startTestService({ database, env: { ...kafka, ...LOOPBACK_RECEIVERS, METERLINE_ROLES: 'api,aggregator,rater', METERLINE_RATER_INTERVAL: '200ms' } });
    alerts = await startTestService({ database, env: { ...kafka, ...LOOPBACK_RECEIVERS, METERLINE_ROLES: 'alerts', METERLINE_ALERTS_INTERVAL: '200ms' } });
    const key = pipeline.operatorKey;
    const post = (path: string, body: unknown) => expectStatus(pipeline.request('POST', path, { key, body }), 201);
    await post('/v1/meters', { key: 'calls', name: 'Calls', eventType: 'api.call', aggregation: 'COUNT' });
    await post('/v1/customers', { id: 'acme', name: 'Acme', timezone: 'UTC', currency: 'USD' });
    await post('/v1/plans', {
      key: 'api',
      name: 'API',
      currency: 'USD',
      charges: [{ key: 'calls', meter: 'calls', price: { model: 'unit', unitAmount: '0.50' } }],
      effectiveFrom: '2020-01-01T00:00:00Z',
    });
    await expectStatus(pipeline.request('PUT', '/v1/customers/acme/contract', { key, body: { plan: 'api', startsAt: '2020-01-01T00:00:00Z' } }), 200);
    receiver.trust((await post('/v1/webhook-endpoints', { url: receiver.url })).body.secret as string);
    await post('/v1/alert-rules', { kind: 'budget', budget: '10', percentages: [50, 100], channels: ['webhook'] });
  });
  afterAll(async () => {
    await alerts?.close();
    await pipeline?.close();
    await receiver?.close();
  });

  it('evaluates the figures another process rated and delivers from its own outbox', async () => {
    expect(alerts.service.alerts).toBeDefined();
    expect(pipeline.service.alerts).toBeUndefined();
    const events = Array.from({ length: 12 }, () => cloudEvent({ type: 'api.call', subject: 'acme' }));
    await expectStatus(pipeline.request('POST', '/v1/events', { key: pipeline.operatorKey, body: events }), 202);
    await waitFor(async () => (receiver.received.length >= 1 ? true : undefined), 'the 50 % notification', 60_000);
    const message = JSON.parse(receiver.received[0]?.body ?? '{}') as { data: Record<string, unknown> };
    expect(message.data).toMatchObject({ kind: 'budget', percentage: '50', threshold: '5', value: '6.00', budget: '10' });

    await expectStatus(
      pipeline.request('POST', '/v1/events', { key: pipeline.operatorKey, body: Array.from({ length: 10 }, () => cloudEvent({ type: 'api.call', subject: 'acme' })) }),
      202,
    );
    await waitFor(async () => (receiver.received.length >= 2 ? true : undefined), 'the 100 % notification', 60_000);
    expect(JSON.parse(receiver.received[1]?.body ?? '{}')).toMatchObject({ data: { percentage: '100', threshold: '10', value: '11.00' } });

    const listed = await expectStatus(pipeline.request('GET', '/v1/alerts', { key: pipeline.operatorKey }), 200);
    expect(listed.body.data.map((a: { details: { percentage: string } }) => a.details.percentage).sort()).toEqual(['100', '50']);
    const metrics = await (await fetch(`${alerts.url}/metrics`)).text();
    expect(metrics).toMatch(/meterline_alerts_total\{kind="budget",transition="fired"\} 2/);
    expect(metrics).toMatch(/meterline_alert_deliveries_total\{channel="webhook",outcome="succeeded"\} 2/);
  });
});
