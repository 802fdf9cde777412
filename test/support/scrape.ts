import { randomBytes } from 'node:crypto';
import { cloudEvent, expectStatus } from './fixtures.js';
import { waitFor } from './process.js';
import { metricFamilies, type MetricType } from './prometheus.js';
import { startTestService, type TestService } from './service.js';

export interface ScrapedService {
  readonly svc: TestService;
  /** The metric families of /metrics after traffic went through ingest, the broker and the aggregator. */
  readonly families: ReadonlyMap<string, MetricType>;
}

/**
 * Starts the service in Kafka mode (every role in one process), which exports every metric the
 * README lists, sends a little traffic, and scrapes /metrics once the aggregator has handled it.
 * Uses the broker the integration tests' global setup provides.
 */
export async function startScrapedService(prefix: string): Promise<ScrapedService> {
  const brokers = process.env.METERLINE_TEST_KAFKA_BROKERS ?? '127.0.0.1:9092';
  const suffix = `${prefix}-${randomBytes(4).toString('hex')}`;
  const svc = await startTestService({
    env: {
      KAFKA_BROKERS: brokers,
      KAFKA_TOPIC: `${suffix}`,
      KAFKA_DLQ_TOPIC: `${suffix}-dlq`,
      KAFKA_GROUP_ID: `${suffix}`,
      KAFKA_PARTITIONS: '2',
      METERLINE_AGGREGATOR_MAX_WAIT: '50ms',
    },
  });
  try {
    const key = svc.operatorKey;
    await expectStatus(svc.request('POST', '/v1/meters', { key, body: { key: 'n', name: 'n', eventType: 'x', aggregation: 'COUNT' } }), 201);
    await expectStatus(svc.request('POST', '/v1/events', { key, body: [cloudEvent({ type: 'x' }), cloudEvent({ type: 'x', id: '' })] }), 202);
    // The lag gauge gets a sample once the aggregator has handled a batch: traffic went the whole way.
    const text = await waitFor(async () => {
      const metrics = await svc.request('GET', '/metrics');
      return /^meterline_aggregator_consumer_lag_messages\{partition="\d+"\} \d+$/m.test(metrics.text) ? metrics.text : undefined;
    }, 'the aggregator to report its consumer lag');
    return { svc, families: metricFamilies(text) };
  } catch (error) {
    await svc.close();
    throw error;
  }
}
