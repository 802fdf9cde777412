/**
 * Scale-out throughput and latency: events through POST /v1/events in Kafka mode until the
 * usage API shows them all, beside a raw kafkajs produce (acks=all) + consume of the same
 * payloads on the same broker, in one run; and the latency from a request's 202 to its events
 * being visible in the usage API, sampled under that load.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { ensureKafka } from '../test/support/kafka.js';
import { machine, startBenchService } from './service.js';

const TOTAL = Number(process.env.BENCH_KAFKA_EVENTS ?? 200_000);
const BATCH = 1_000;
const CLIENTS = Number(process.env.BENCH_KAFKA_CLIENTS ?? 8);
const PARTITIONS = Number(process.env.BENCH_KAFKA_PARTITIONS ?? 4);
const SAMPLES = Number(process.env.BENCH_LATENCY_SAMPLES ?? 60);

function note(text: string): void {
  if (process.stderr.isTTY) process.stderr.write(`${text}\n`);
}

function payloads(runId: string): Array<Record<string, unknown>> {
  const time = new Date(Date.now() - 60_000).toISOString();
  return Array.from({ length: TOTAL }, (_, i) => ({
    specversion: '1.0',
    id: `${runId}-${i}`,
    source: 'bench-agent',
    type: 'api.request',
    subject: `customer-${i % 500}`,
    time,
    data: { bytes: String((i * 7919) % 100_000), region: ['eu', 'us', 'ap'][i % 3] },
  }));
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

export async function benchKafka(): Promise<void> {
  const broker = await ensureKafka();
  const suffix = randomBytes(4).toString('hex');
  const dataDir = await mkdtemp(join(tmpdir(), 'meterline-bench-kafka-'));
  try {
    // Raw kafkajs: the same payloads produced with acks=all and consumed by a group.
    const kafka = new Kafka({ clientId: 'bench', brokers: broker.brokers, logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    const rawTopic = `bench-raw-${suffix}`;
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: rawTopic, numPartitions: PARTITIONS, replicationFactor: 1 }] });
    await admin.disconnect();
    const raw = payloads('raw').map((event) => ({ key: `default/${String(event.subject)}`, value: JSON.stringify(event) }));
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    const consumer = kafka.consumer({ groupId: `bench-raw-${suffix}`, maxWaitTimeInMs: 20 });
    await Promise.all([producer.connect(), consumer.connect()]);
    await consumer.subscribe({ topics: [rawTopic], fromBeginning: true });
    let consumed = 0;
    let allConsumed: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (allConsumed = resolve));
    await consumer.run({
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) JSON.parse(message.value?.toString() ?? '{}');
        consumed += batch.messages.length;
        if (consumed >= TOTAL) allConsumed();
      },
    });
    note('kafka: raw produce + consume');
    const rawStarted = performance.now();
    for (let offset = 0; offset < TOTAL; offset += BATCH) {
      await producer.send({ topic: rawTopic, acks: -1, messages: raw.slice(offset, offset + BATCH) });
    }
    await done;
    const rawRate = TOTAL / ((performance.now() - rawStarted) / 1000);
    await Promise.all([producer.disconnect(), consumer.disconnect()]);

    // The pipeline in Kafka mode, all roles in one process.
    const { service, base, headers } = await startBenchService(
      {
        METERLINE_DATA_DIR: dataDir,
        KAFKA_BROKERS: broker.brokers.join(','),
        KAFKA_TOPIC: `bench-events-${suffix}`,
        KAFKA_DLQ_TOPIC: `bench-events-${suffix}-dlq`,
        KAFKA_GROUP_ID: `bench-${suffix}`,
        KAFKA_PARTITIONS: String(PARTITIONS),
        METERLINE_AGGREGATOR_MAX_WAIT: '50ms',
      },
      { key: 'calls', name: 'Calls', eventType: 'api.request', aggregation: 'COUNT' },
    );
    const count = async (subject?: string) => {
      const response = await fetch(`${base}/v1/meters/calls/query${subject ? `?subject=${subject}` : ''}`, { headers });
      const body = (await response.json()) as { data: Array<{ value: string }> };
      return Number(body.data[0]?.value ?? 0);
    };

    const bodies: string[] = [];
    const events = payloads('http');
    for (let offset = 0; offset < TOTAL; offset += BATCH) bodies.push(JSON.stringify(events.slice(offset, offset + BATCH)));
    note(`kafka: POST /v1/events ×${CLIENTS} until visible`);
    let next = 0;
    const started = performance.now();
    const senders = Array.from({ length: CLIENTS }, async () => {
      while (next < bodies.length) {
        const response = await fetch(`${base}/v1/events`, { method: 'POST', headers, body: bodies[next++] as string });
        if (response.status !== 202) throw new Error(`ingest answered ${response.status}`);
        await response.arrayBuffer();
      }
    });

    // Latency samples under the same load: 202 → visible in the usage API.
    const latencies: number[] = [];
    const sampler = (async () => {
      for (let sample = 0; sample < SAMPLES; sample++) {
        const subject = `probe-${suffix}-${sample}`;
        const body = JSON.stringify([{ specversion: '1.0', id: `probe-${sample}`, type: 'api.request', subject, data: {} }]);
        const response = await fetch(`${base}/v1/events`, { method: 'POST', headers, body });
        if (response.status !== 202) throw new Error(`probe answered ${response.status}`);
        const accepted = performance.now();
        while ((await count(subject)) < 1) await new Promise((resolve) => setTimeout(resolve, 5));
        latencies.push(performance.now() - accepted);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    await Promise.all(senders);
    const accepted = performance.now();
    while ((await count()) < TOTAL + latencies.length) await new Promise((resolve) => setTimeout(resolve, 20));
    const visibleAll = performance.now();
    await sampler;
    const pipelineRate = TOTAL / ((visibleAll - started) / 1000);
    const acceptRate = TOTAL / ((accepted - started) / 1000);
    const total = await count();
    if (total !== TOTAL + SAMPLES) throw new Error(`expected ${TOTAL + SAMPLES} events, found ${total}`);
    await service.close();

    const sorted = [...latencies].sort((a, b) => a - b);
    console.log('\n## Kafka mode: end-to-end throughput and visible latency\n');
    console.log(`Machine: ${machine()}; broker on the same machine`);
    console.log(`Events: ${TOTAL}, ${BATCH} per request, ${CLIENTS} clients, ${PARTITIONS} partitions\n`);
    console.log('| path | events/s | vs raw kafkajs |');
    console.log('|---|---:|---:|');
    console.log(`| raw kafkajs produce (acks=all) + group consume | ${Math.round(rawRate).toLocaleString('en')} | 1.00 |`);
    console.log(`| POST /v1/events → Kafka → ClickHouse, until visible | ${Math.round(pipelineRate).toLocaleString('en')} | ${(pipelineRate / rawRate).toFixed(2)} |`);
    console.log(`| POST /v1/events answered 202 (produce only) | ${Math.round(acceptRate).toLocaleString('en')} | ${(acceptRate / rawRate).toFixed(2)} |`);
    console.log(
      `\nLatency from 202 to visible in the usage API (${latencies.length} samples under load): p50 ${percentile(sorted, 50).toFixed(0)} ms, p99 ${percentile(sorted, 99).toFixed(0)} ms, max ${(sorted.at(-1) ?? 0).toFixed(0)} ms`,
    );
    console.log(`Peak RSS: ${Math.round(process.resourceUsage().maxRSS / 1024)} MiB (this process; the broker is a separate JVM)`);
  } finally {
    await broker.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}
