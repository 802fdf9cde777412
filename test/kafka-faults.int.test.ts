import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { buildEventSink } from '../aggregator/index.js';
import { buildCatalog } from '../catalog/index.js';
import { buildKafkaAggregator, decodeEventMessage } from '../eventlog/index.js';
import { createLogger } from '../platform/logger.js';
import { buildMetrics } from '../platform/metrics.js';
import { cloudEvent, expectStatus } from './support/fixtures.js';
import { faultyStore } from './support/faulty-store.js';
import { freePort, waitFor } from './support/process.js';
import { startTestService, type TestService } from './support/service.js';

const run = promisify(execFile);
const BROKERS = (process.env.METERLINE_TEST_KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const KAFKA_SH = new URL('../deploy/local/kafka/kafka.sh', import.meta.url).pathname;

function kafkaEnv(suffix: string, brokers: readonly string[], partitions = 4): Record<string, string> {
  return {
    KAFKA_BROKERS: brokers.join(','),
    KAFKA_TOPIC: `faults-${suffix}`,
    KAFKA_DLQ_TOPIC: `faults-${suffix}-dlq`,
    KAFKA_GROUP_ID: `faults-${suffix}`,
    KAFKA_PARTITIONS: String(partitions),
    METERLINE_AGGREGATOR_MAX_WAIT: '20ms',
    METERLINE_STORE_RETRY_MAX: '2s',
  };
}

async function createMeters(svc: TestService): Promise<void> {
  await expectStatus(
    svc.request('POST', '/v1/meters', {
      key: svc.operatorKey,
      body: { key: 'gb', name: 'GB', eventType: 'transfer', aggregation: 'SUM', valueProperty: '$.gb' },
    }),
    201,
  );
  await expectStatus(
    svc.request('POST', '/v1/meters', { key: svc.operatorKey, body: { key: 'n', name: 'n', eventType: 'transfer', aggregation: 'COUNT' } }),
    201,
  );
}

const usage = async (svc: TestService, meter: string) =>
  ((await svc.request('GET', `/v1/meters/${meter}/query`, { key: svc.operatorKey })).body.data[0]?.value as string | undefined) ?? '0';

function agentMessages(count: number, prefix: string) {
  return Array.from({ length: count }, (_, i) => ({
    key: `default/s${i % 40}`,
    headers: { 'meterline-tenant': 'default' },
    value: JSON.stringify(cloudEvent({ id: `${prefix}-${i}`, type: 'transfer', subject: `s${i % 40}`, data: { gb: '0.5' } })),
  }));
}

describe('scale-out faults', () => {
  const services: TestService[] = [];
  afterAll(async () => {
    for (const svc of services) await svc.close();
  });

  it('waits out a 30 s store outage without losing an event, lag visible, then catches up', { timeout: 180_000 }, async () => {
    const suffix = randomBytes(4).toString('hex');
    let faults: ReturnType<typeof faultyStore> | undefined;
    const svc = await startTestService({
      env: kafkaEnv(suffix, BROKERS),
      wrapStore: (store) => {
        faults = faultyStore(store);
        return faults.store;
      },
    });
    services.push(svc);
    await createMeters(svc);
    const kafka = new Kafka({ clientId: 'faults', brokers: BROKERS, logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();

    faults?.setDown(true);
    const downAt = Date.now();
    await producer.send({ topic: `faults-${suffix}`, acks: -1, messages: agentMessages(5_000, 'outage') });
    const lagged = await waitFor(async () => {
      const metrics = (await svc.request('GET', '/metrics')).text;
      const lag = [...metrics.matchAll(/^meterline_aggregator_consumer_lag_messages\{partition="\d+"\} (\d+)$/gm)].reduce(
        (sum, match) => sum + Number(match[1]),
        0,
      );
      return lag > 0 ? lag : undefined;
    }, 'lag to show');
    expect(lagged).toBeGreaterThan(0);
    const stillDown = 30_000 - (Date.now() - downAt);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, stillDown)));
    faults?.setDown(false);
    await producer.send({ topic: `faults-${suffix}`, acks: -1, messages: agentMessages(1_000, 'after') });
    await producer.disconnect();

    await waitFor(async () => ((await usage(svc, 'n')) === '6000' ? true : undefined), '6000 events', 60_000);
    expect(await usage(svc, 'gb')).toBe('3000');
    const retries = /^meterline_aggregator_store_retries_total (\d+)$/m.exec((await svc.request('GET', '/metrics')).text);
    expect(Number(retries?.[1])).toBeGreaterThan(0);
    await waitFor(async () => {
      const metrics = (await svc.request('GET', '/metrics')).text;
      return [...metrics.matchAll(/^meterline_aggregator_consumer_lag_messages\{partition="\d+"\} (\d+)$/gm)].every((m) => m[1] === '0')
        ? true
        : undefined;
    }, 'lag back to zero');
  });

  it('moves a stopped member’s partitions to the other member of the group, totals exact', { timeout: 120_000 }, async () => {
    const suffix = randomBytes(4).toString('hex');
    const env = kafkaEnv(suffix, BROKERS, 6);
    const svc = await startTestService({ env });
    services.push(svc);
    await createMeters(svc);

    // A second member of the same group, on the same store, as a second aggregator process would be.
    const log = createLogger('silent');
    const kafka = new Kafka({ clientId: 'second', brokers: BROKERS, logLevel: logLevel.NOTHING });
    const catalog = buildCatalog({ store: svc.service.store, log, cacheTtlMs: 1_000 });
    let secondInserted = 0;
    const second = buildKafkaAggregator({
      consumer: kafka.consumer({ groupId: env.KAFKA_GROUP_ID as string, maxWaitTimeInMs: 20 }),
      producer: kafka.producer({ idempotent: true, maxInFlightRequests: 1 }),
      topic: env.KAFKA_TOPIC as string,
      deadLetterTopic: env.KAFKA_DLQ_TOPIC as string,
      sink: buildEventSink({ store: svc.service.store, dedupeWindowMs: 35 * 86_400_000 }),
      decode: (value, tenant, producedAt) =>
        decodeEventMessage(value, tenant, {
          tenantExists: (id) => catalog.tenantExists(id),
          metersOf: (id) => catalog.listMeters(id),
          producedAt,
          futureToleranceMs: 300_000,
          backfillHorizonMs: 35 * 86_400_000,
        }),
      log,
      metrics: buildMetrics(),
      retryMaxMs: 1_000,
      afterInsert: (inserted) => (secondInserted += inserted),
    });
    await second.start();

    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    for (let round = 0; round < 10; round++) {
      await producer.send({ topic: env.KAFKA_TOPIC as string, acks: -1, messages: agentMessages(2_000, `g${round}`) });
    }
    await waitFor(async () => (secondInserted > 0 ? true : undefined), 'the second member to take part');
    await second.stop();
    for (let round = 10; round < 15; round++) {
      await producer.send({ topic: env.KAFKA_TOPIC as string, acks: -1, messages: agentMessages(2_000, `g${round}`) });
    }
    await producer.disconnect();
    await waitFor(async () => ((await usage(svc, 'n')) === '30000' ? true : undefined), '30000 events', 90_000);
    expect(await usage(svc, 'gb')).toBe('15000');
    expect(secondInserted).toBeLessThan(30_000);
  });

  it('answers every request during a broker restart with 202 or 503, and counts every event once', { timeout: 240_000 }, async () => {
    // A broker of its own: restarting the shared one would disturb the other test files.
    const port = await freePort();
    const controllerPort = await freePort();
    const brokerEnv = {
      ...process.env,
      KAFKA_PORT: String(port),
      KAFKA_CONTROLLER_PORT: String(controllerPort),
      KAFKA_DATA_DIR: await mkdtemp(join(tmpdir(), 'meterline-broker-')),
    };
    await run('bash', [KAFKA_SH, 'start'], { env: brokerEnv });
    try {
      const brokers = [`127.0.0.1:${port}`];
      const suffix = randomBytes(4).toString('hex');
      const svc = await startTestService({ env: { ...kafkaEnv(suffix, brokers), METERLINE_PRODUCE_TIMEOUT: '2s' } });
      services.push(svc);
      await createMeters(svc);

      const statuses = new Map<number, number>();
      const batches = Array.from({ length: 300 }, (_, b) =>
        Array.from({ length: 40 }, (_, i) => cloudEvent({ id: `r-${b}-${i}`, type: 'transfer', subject: `s${i % 10}`, data: { gb: '1' } })),
      );
      let next = 0;
      const sender = async () => {
        while (next < batches.length) {
          const batch = batches[next++];
          // A client as documented: retry a refused batch, same ids, until it is accepted.
          for (;;) {
            const response = await svc.request('POST', '/v1/events', { key: svc.operatorKey, body: batch }).catch(() => undefined);
            const status = response?.status ?? 0;
            statuses.set(status, (statuses.get(status) ?? 0) + 1);
            if (status === 202) break;
            await new Promise((resolve) => setTimeout(resolve, 200));
          }
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      };
      const load = Promise.all([sender(), sender(), sender()]);
      await waitFor(async () => (next >= 20 ? true : undefined), 'load to start');
      await run('bash', [KAFKA_SH, 'stop'], { env: brokerEnv });
      const refusedWhileDown = await waitFor(async () => ((statuses.get(503) ?? 0) > 0 ? statuses.get(503) : undefined), 'a 503');
      await run('bash', [KAFKA_SH, 'start'], { env: brokerEnv });
      const sentBeforeRestart = next;
      await load;

      expect(refusedWhileDown).toBeGreaterThan(0);
      expect(sentBeforeRestart).toBeLessThan(batches.length);
      expect([...statuses.keys()].every((status) => status === 202 || status === 503)).toBe(true);
      await waitFor(async () => ((await usage(svc, 'n')) === '12000' ? true : undefined), '12000 events', 120_000);
      expect(await usage(svc, 'gb')).toBe('12000');
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(await usage(svc, 'n')).toBe('12000');
    } finally {
      await run('bash', [KAFKA_SH, 'stop'], { env: brokerEnv });
    }
  });
});
