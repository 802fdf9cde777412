import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cloudEvent, expectStatus } from './support/fixtures.js';
import { readDeadLetters } from './support/kafka.js';
import { waitFor } from './support/process.js';
import { startTestService, type TestService } from './support/service.js';

const BROKERS = (process.env.METERLINE_TEST_KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');

/** Scale-out mode in one process: HTTP → Kafka (acks=all) → consumer group → ClickHouse. */
describe('kafka mode', () => {
  let svc: TestService;
  const suffix = randomBytes(4).toString('hex');
  const topic = `events-${suffix}`;
  const deadLetterTopic = `events-dlq-${suffix}`;
  const kafka = new Kafka({ clientId: 'test', brokers: BROKERS, logLevel: logLevel.NOTHING });

  beforeAll(async () => {
    svc = await startTestService({
      env: {
        KAFKA_BROKERS: BROKERS.join(','),
        KAFKA_TOPIC: topic,
        KAFKA_DLQ_TOPIC: deadLetterTopic,
        KAFKA_GROUP_ID: `aggregator-${suffix}`,
        KAFKA_PARTITIONS: '4',
        METERLINE_AGGREGATOR_MAX_WAIT: '50ms',
      },
    });
    const key = svc.operatorKey;
    await expectStatus(
      svc.request('POST', '/v1/meters', {
        key,
        body: { key: 'tokens', name: 'Tokens', eventType: 'llm.call', aggregation: 'SUM', valueProperty: '$.tokens', groupBy: { model: '$.model' } },
      }),
      201,
    );
    await expectStatus(
      svc.request('POST', '/v1/customers', { key, body: { id: 'acme', name: 'Acme', timezone: 'UTC', currency: 'USD', subjects: ['a1', 'a2'] } }),
      201,
    );
  });
  afterAll(async () => svc?.close());

  const total = async (query = '') => {
    const response = await expectStatus(svc.request('GET', `/v1/meters/tokens/query${query}`, { key: svc.operatorKey }), 200);
    return (response.body.data[0]?.value as string | undefined) ?? '0';
  };

  it('counts every accepted event exactly once, through the broker', async () => {
    const models = ['small', 'large'];
    const events = Array.from({ length: 600 }, (_, i) =>
      cloudEvent({ type: 'llm.call', subject: i % 3 === 0 ? 'a2' : 'a1', data: { tokens: String(i % 7), model: models[i % 2] } }),
    );
    const expected = events.reduce((sum, event) => sum + Number((event.data as { tokens: string }).tokens), 0);
    for (let offset = 0; offset < events.length; offset += 100) {
      const answer = await expectStatus(
        svc.request('POST', '/v1/events', { key: svc.operatorKey, body: events.slice(offset, offset + 100) }),
        202,
      );
      expect(answer.body.accepted).toBe(100);
    }
    // A client re-sending half of them while they are still in flight: counted once all the same.
    await expectStatus(svc.request('POST', '/v1/events', { key: svc.operatorKey, body: events.slice(0, 300) }), 202);
    await waitFor(async () => ((await total()) === String(expected) ? true : undefined), `total ${expected}`);
    expect(await total('?customerId=acme')).toBe(String(expected));
    // Stays put: nothing arrives late as a double count.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await total()).toBe(String(expected));
  });

  it('answers a re-send of stored events as duplicates', async () => {
    const event = cloudEvent({ type: 'llm.call', subject: 'a1', data: { tokens: '5', model: 'small' } });
    const before = await total();
    const after = String(Number(before) + 5);
    await expectStatus(svc.request('POST', '/v1/events', { key: svc.operatorKey, body: event }), 202);
    await waitFor(async () => ((await total()) === after ? true : undefined), 'first copy stored');
    const again = await expectStatus(svc.request('POST', '/v1/events', { key: svc.operatorKey, body: event }), 202);
    expect(again.body).toEqual({ accepted: 0, duplicates: 1, rejected: [] });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await total()).toBe(after);
  });

  it('keys messages by tenant and customer and carries the tenant in a header', async () => {
    const consumer = kafka.consumer({ groupId: `inspect-${suffix}` });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    const seen: Array<{ key: string; tenant: string; partition: number; value: Record<string, unknown> }> = [];
    await consumer.run({
      eachMessage: async ({ message, partition }) => {
        seen.push({
          key: message.key?.toString() ?? '',
          tenant: message.headers?.['meterline-tenant']?.toString() ?? '',
          partition,
          value: JSON.parse(message.value?.toString() ?? '{}') as Record<string, unknown>,
        });
      },
    });
    await waitFor(async () => (seen.length >= 600 ? true : undefined), 'messages');
    await consumer.disconnect();
    expect(new Set(seen.map((message) => message.key))).toEqual(new Set(['default/acme']));
    expect(new Set(seen.map((message) => message.partition)).size).toBe(1);
    expect(seen.every((message) => message.tenant === 'default')).toBe(true);
    expect(seen[0]?.value).toMatchObject({ specversion: '1.0', type: 'llm.call', data: { model: expect.any(String) } });
  });

  it('dead-letters messages that can never be stored, with the reason, and keeps the partition flowing', async () => {
    const producer = kafka.producer();
    await producer.connect();
    const good = cloudEvent({ type: 'llm.call', subject: 'a1', data: { tokens: '1000', model: 'small' } });
    const before = await total();
    await producer.send({
      topic,
      messages: [
        { key: 'default/acme', value: '{not json', headers: { 'meterline-tenant': 'default' } },
        { key: 'default/acme', value: JSON.stringify(cloudEvent({ type: 'llm.call', subject: 'a1', data: { tokens: 'many' } })), headers: { 'meterline-tenant': 'default' } },
        { key: 'default/acme', value: JSON.stringify(cloudEvent({ type: 'llm.call', subject: 'a1' })) },
        { key: 'nobody/x', value: JSON.stringify(cloudEvent({ type: 'llm.call' })), headers: { 'meterline-tenant': 'nobody' } },
        // An agent producing straight to the topic: validated and metered when consumed.
        { key: 'default/acme', value: JSON.stringify(good), headers: { 'meterline-tenant': 'default' } },
      ],
    });
    await producer.disconnect();
    await waitFor(async () => ((await total()) === String(Number(before) + 1000) ? true : undefined), 'the good message');

    const letters = await readDeadLetters(kafka, deadLetterTopic, `dlq-${suffix}`, 4);
    expect(letters.map((letter) => letter['meterline-dlq-reason']).sort()).toEqual(['invalid_event', 'no_tenant', 'not_json', 'unknown_tenant']);
    const invalid = letters.find((letter) => letter['meterline-dlq-reason'] === 'invalid_event');
    expect(invalid?.['meterline-dlq-detail']).toMatch(/data\.tokens/);
    expect(invalid?.['meterline-dlq-source']).toMatch(new RegExp(`^${topic}/\\d+/\\d+$`));
    const metrics = await svc.request('GET', '/metrics');
    expect(metrics.text).toMatch(/meterline_aggregator_dead_letters_total\{reason="not_json"\} 1/);
    expect(metrics.text).toMatch(/meterline_aggregator_consumer_lag_messages\{partition="\d+"\}/);
  });
});
