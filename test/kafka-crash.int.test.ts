import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, runService, waitFor, type RunningService } from './support/process.js';

const BROKERS = (process.env.METERLINE_TEST_KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const EVENTS = 100_000;

/**
 * kill -9 of the aggregator while it works through a stream with duplicates: once exactly between
 * an insert and its offset commit (fault hook), once at a moment the test picks. Totals stay exact.
 */
describe('aggregator crashes', () => {
  const running: RunningService[] = [];
  afterAll(() => {
    for (const service of running) service.child.kill('SIGKILL');
  });

  it('loses nothing and counts nothing twice across two kill -9s', { timeout: 300_000 }, async () => {
    const suffix = randomBytes(4).toString('hex');
    const topic = `crash-${suffix}`;
    const port = await freePort();
    const operatorKey = `crash-operator-key-${suffix}-0000000000`;
    const env = {
      METERLINE_DATA_DIR: await mkdtemp(join(tmpdir(), 'meterline-crash-')),
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      METERLINE_ADMIN_KEY: operatorKey,
      KAFKA_BROKERS: BROKERS.join(','),
      KAFKA_TOPIC: topic,
      KAFKA_DLQ_TOPIC: `${topic}-dlq`,
      KAFKA_GROUP_ID: `crash-${suffix}`,
      KAFKA_PARTITIONS: '3',
      METERLINE_AGGREGATOR_MAX_WAIT: '20ms',
    };
    const base = `http://127.0.0.1:${port}`;
    const auth = { authorization: `Bearer ${operatorKey}`, 'content-type': 'application/json' };
    const ready = () => waitFor(async () => ((await fetch(`${base}/readyz`)).status === 200 ? true : undefined), 'readiness');
    const usage = async (meter: string) => {
      const response = await fetch(`${base}/v1/meters/${meter}/query`, { headers: auth });
      const body = (await response.json()) as { data: Array<{ value: string }> };
      return body.data[0]?.value ?? '0';
    };

    // First run: dies right after its third insert, before committing that batch's offsets.
    const first = runService({ ...env, METERLINE_TEST_CRASH_AFTER_INSERTS: '3' });
    running.push(first);
    await ready();
    for (const meter of [
      { key: 'calls', name: 'Calls', eventType: 'api.call', aggregation: 'COUNT' },
      { key: 'bytes', name: 'Bytes', eventType: 'api.call', aggregation: 'SUM', valueProperty: '$.bytes' },
    ]) {
      const created = await fetch(`${base}/v1/meters`, { method: 'POST', headers: auth, body: JSON.stringify(meter) });
      expect(created.status).toBe(201);
    }

    // The stream, produced as agents do straight to the topic: every tenth message re-sends an earlier id.
    const kafka = new Kafka({ clientId: 'crash-test', brokers: BROKERS, logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    let expectedBytes = 0n;
    const time = new Date().toISOString();
    const message = (n: number) => ({
      key: `default/s${n % 50}`,
      headers: { 'meterline-tenant': 'default' },
      value: JSON.stringify({ specversion: '1.0', id: `e${n}`, source: 'agent', type: 'api.call', subject: `s${n % 50}`, time, data: { bytes: String(n % 1000) } }),
    });
    let produced = 0;
    for (let n = 0; n < EVENTS; n += 2_000) {
      const messages = [];
      for (let i = n; i < n + 2_000; i++) {
        messages.push(message(i));
        expectedBytes += BigInt(i % 1000);
        if (i % 10 === 9) messages.push(message(i - 5));
      }
      await producer.send({ topic, acks: -1, messages });
      produced += messages.length;
    }
    await producer.disconnect();
    expect(produced).toBe(EVENTS + EVENTS / 10);

    await first.exited;
    expect(first.signal()).toBe('SIGKILL');

    // Second run: killed from outside once it has made some progress.
    const second = runService(env);
    running.push(second);
    await ready();
    await waitFor(async () => (BigInt(await usage('calls')) > 20_000n ? true : undefined), 'progress before the second kill');
    second.child.kill('SIGKILL');
    await second.exited;

    // Third run finishes the stream.
    const third = runService(env);
    running.push(third);
    await ready();
    await waitFor(async () => ((await usage('calls')) === String(EVENTS) ? true : undefined), `${EVENTS} events`, 120_000);
    expect(await usage('bytes')).toBe(expectedBytes.toString());
    // Nothing trickles in afterwards as a second count.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await usage('calls')).toBe(String(EVENTS));
    third.child.kill('SIGTERM');
    expect(await third.exited).toBe(0);
  });

  it('runs the aggregator role alone: operations endpoints only, consuming events agents produce', { timeout: 120_000 }, async () => {
    const suffix = randomBytes(4).toString('hex');
    const topic = `role-${suffix}`;
    const port = await freePort();
    const env = {
      METERLINE_DATA_DIR: await mkdtemp(join(tmpdir(), 'meterline-role-')),
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      METERLINE_ADMIN_KEY: `role-operator-key-${suffix}-0000000000`,
      KAFKA_BROKERS: BROKERS.join(','),
      KAFKA_TOPIC: topic,
      KAFKA_DLQ_TOPIC: `${topic}-dlq`,
      KAFKA_GROUP_ID: `role-${suffix}`,
    };
    const base = `http://127.0.0.1:${port}`;
    const aggregator = runService(env, ['--role', 'aggregator']);
    running.push(aggregator);
    await waitFor(async () => ((await fetch(`${base}/readyz`)).status === 200 ? true : undefined), 'readiness');
    expect(aggregator.output()).toMatch(/"roles":\["aggregator"\]/);
    expect((await fetch(`${base}/v1/meters`)).status).toBe(404);
    const kafka = new Kafka({ clientId: 'role-test', brokers: BROKERS, logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    const event = { specversion: '1.0', id: 'r1', type: 'api.call', subject: 's', data: {} };
    await producer.send({ topic, messages: [{ key: 'default/s', value: JSON.stringify(event), headers: { 'meterline-tenant': 'default' } }] });
    await producer.disconnect();
    await waitFor(async () => {
      const metrics = await (await fetch(`${base}/metrics`)).text();
      return /^meterline_aggregator_consumed_messages_total 1$/m.test(metrics) ? true : undefined;
    }, 'the message to be consumed');
    aggregator.child.kill('SIGTERM');
    expect(await aggregator.exited).toBe(0);
  });
});
