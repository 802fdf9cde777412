import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cloudEvent, expectStatus } from './support/fixtures.js';
import { ensureKafka, readDeadLetters, type KafkaHandle } from './support/kafka.js';
import { waitFor } from './support/process.js';
import { startTestService, type TestService } from './support/service.js';

/** Text the store cannot keep, produced straight to the topic: dead-lettered, the partition keeps flowing. */
describe('bad input on the Kafka path', () => {
  let broker: KafkaHandle;
  let svc: TestService;
  let kafka: Kafka;
  const suffix = randomBytes(4).toString('hex');
  const topic = `events-bad-${suffix}`;
  const deadLetterTopic = `events-bad-dlq-${suffix}`;

  beforeAll(async () => {
    broker = await ensureKafka();
    kafka = new Kafka({ clientId: 'test-bad-input', brokers: broker.brokers, logLevel: logLevel.NOTHING });
    svc = await startTestService({
      env: {
        KAFKA_BROKERS: broker.brokers.join(','),
        KAFKA_TOPIC: topic,
        KAFKA_DLQ_TOPIC: deadLetterTopic,
        KAFKA_GROUP_ID: `aggregator-${suffix}`,
        // One partition: every message below queues behind the bad ones.
        KAFKA_PARTITIONS: '1',
        METERLINE_AGGREGATOR_MAX_WAIT: '50ms',
      },
    });
    await expectStatus(
      svc.request('POST', '/v1/meters', {
        key: svc.operatorKey,
        body: { key: 'tokens', name: 'Tokens', eventType: 'llm.call', aggregation: 'SUM', valueProperty: '$.tokens' },
      }),
      201,
    );
  });
  afterAll(async () => {
    await svc?.close();
    await broker?.stop();
  });

  const total = async () => {
    const response = await expectStatus(svc.request('GET', '/v1/meters/tokens/query', { key: svc.operatorKey }), 200);
    return (response.body.data[0]?.value as string | undefined) ?? '0';
  };

  it('refuses the same text over HTTP with 400 before it reaches the topic', async () => {
    const response = await svc.request('POST', '/v1/events', {
      key: svc.operatorKey,
      body: cloudEvent({ type: 'llm.call', subject: 'acme\ud800', data: { tokens: '1' } }),
    });
    expect(response.status).toBe(400);
    expect(response.body.rejected[0].errors[0]).toMatchObject({ path: 'subject' });
  });

  it('dead-letters lone surrogates, control-character ids and invalid UTF-8, and stores the event behind them', async () => {
    const headers = { 'meterline-tenant': 'default' };
    const event = (overrides: Record<string, unknown>) => JSON.stringify(cloudEvent({ type: 'llm.call', subject: 'acme', ...overrides }));
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic,
      messages: [
        { key: 'default/acme', headers, value: event({ id: 'lone\ud800', data: { tokens: '5' } }) },
        { key: 'default/acme', headers, value: event({ data: { tokens: '5', ['k\udc00']: 'v' } }) },
        { key: 'default/acme', headers, value: event({ id: 'nul\u0000', data: { tokens: '5' } }) },
        {
          key: 'default/acme',
          headers,
          value: Buffer.concat([Buffer.from('{"id":"bytes-'), Buffer.from([0xff]), Buffer.from('","type":"llm.call","subject":"acme","data":{"tokens":"5"}}')]),
        },
        { key: 'default/acme', headers, value: event({ data: { tokens: '7' } }) },
      ],
    });
    await producer.disconnect();
    await waitFor(async () => ((await total()) === '7' ? true : undefined), 'the good event behind the bad ones');

    const letters = await readDeadLetters(kafka, deadLetterTopic, `dlq-reader-${suffix}`, 4);
    expect(letters.map((letter) => letter['meterline-dlq-reason'])).toEqual(['invalid_event', 'invalid_event', 'invalid_event', 'not_json']);
    expect(letters[0]?.['meterline-dlq-detail']).toMatch(/^id: holds a lone UTF-16 surrogate/);
    expect(letters[1]?.['meterline-dlq-detail']).toMatch(/^data: has the key "k\\udc00"/);
    expect(letters[2]?.['meterline-dlq-detail']).toMatch(/^id: must not hold control characters/);
    expect(letters[3]?.['meterline-dlq-detail']).toBe('the body is not valid UTF-8');
  });
});
