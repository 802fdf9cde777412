// Proves that the pinned local broker (deploy/local/kafka) and kafkajs work together for
// what the service relies on: idempotent produce with acks=all, consumer groups, and
// committed offsets that a later member resumes from.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { Kafka, logLevel, Partitioners, type Admin, type Consumer, type KafkaMessage } from 'kafkajs';
import { ensureKafka, uniqueTopic, type KafkaHandle } from './support/kafka.js';

const MESSAGES = 1000;
const PARTITIONS = 3;

describe('local Kafka broker with kafkajs', () => {
  const topic = uniqueTopic('broker-check');
  const groupId = uniqueTopic('broker-check-group');
  let handle: KafkaHandle | undefined;
  let kafka: Kafka;
  let admin: Admin;

  // The first run on a machine downloads the broker from Maven Central and formats storage.
  beforeAll(async () => {
    handle = await ensureKafka();
    kafka = new Kafka({ clientId: 'meterline-broker-check', brokers: handle.brokers, logLevel: logLevel.ERROR });
    admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }], waitForLeaders: true });
  }, 300_000);

  afterAll(async () => {
    try {
      await admin?.deleteTopics({ topics: [topic] });
      await admin?.deleteGroups([groupId]);
    } finally {
      await admin?.disconnect();
      await handle?.stop();
    }
  }, 120_000);

  it('creates a topic with three partitions', async () => {
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(metadata.topics[0]?.partitions).toHaveLength(PARTITIONS);
  });

  it('delivers idempotently produced messages exactly once and resumes a group from committed offsets', async () => {
    const producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    try {
      for (let start = 0; start < MESSAGES; start += 100) {
        const messages = Array.from({ length: 100 }, (_, i) => ({ key: `key-${start + i}`, value: `value-${start + i}` }));
        await producer.send({ topic, acks: -1, messages });
      }
    } finally {
      await producer.disconnect();
    }
    const produced = await admin.fetchTopicOffsets(topic);
    expect(produced.reduce((sum, partition) => sum + Number(partition.high), 0)).toBe(MESSAGES);

    const seen = new Map<string, number>();
    const first = kafka.consumer({ groupId });
    const next = new Map<number, string>();
    try {
      await consumeUntil(first, topic, (partition, message) => {
        const key = message.key?.toString() ?? '';
        seen.set(key, (seen.get(key) ?? 0) + 1);
        next.set(partition, (BigInt(message.offset) + 1n).toString());
        return seen.size === MESSAGES;
      });
      await first.commitOffsets([...next].map(([partition, offset]) => ({ topic, partition, offset })));
    } finally {
      await first.disconnect();
    }
    expect(seen.size).toBe(MESSAGES);
    expect([...seen.values()].every((count) => count === 1)).toBe(true);
    for (let i = 0; i < MESSAGES; i += 1) expect(seen.has(`key-${i}`)).toBe(true);

    const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
    const committedByPartition = new Map(committed[0]?.partitions.map((p) => [p.partition, p.offset]));
    for (const partition of produced) expect(committedByPartition.get(partition.partition)).toBe(partition.high);

    // A new member of the group starts where the first one committed: nothing of the
    // first 1000 again, yet it is live, so messages produced now do arrive.
    const second = kafka.consumer({ groupId, maxWaitTimeInMs: 500 });
    const late: string[] = [];
    try {
      await consumeUntil(
        second,
        topic,
        (_partition, message) => {
          late.push(message.key?.toString() ?? '');
          return late.length >= 3;
        },
        async () => {
          expect(late).toEqual([]);
          const latecomer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
          await latecomer.connect();
          await latecomer.send({ topic, acks: -1, messages: ['late-0', 'late-1', 'late-2'].map((key) => ({ key, value: key })) });
          await latecomer.disconnect();
        },
      );
    } finally {
      await second.disconnect();
    }
    expect(late.sort()).toEqual(['late-0', 'late-1', 'late-2']);
  });
});

/**
 * Joins the group and consumes from its committed position (or the beginning) until
 * `onMessage` returns true. `whenIdle` runs once the member has joined and fetched twice
 * without being handed anything, i.e. once it provably sits at its start position.
 */
async function consumeUntil(
  consumer: Consumer,
  topic: string,
  onMessage: (partition: number, message: KafkaMessage) => boolean,
  whenIdle?: () => Promise<void>,
): Promise<void> {
  let finish: (() => void) | undefined;
  let fail: ((error: unknown) => void) | undefined;
  const done = new Promise<void>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  const timer = setTimeout(() => fail?.(new Error(`timed out consuming ${topic}`)), 45_000);
  consumer.on(consumer.events.CRASH, ({ payload }) => fail?.(payload.error));
  if (whenIdle) {
    let fetchesSinceJoin = -1;
    consumer.on(consumer.events.GROUP_JOIN, () => {
      fetchesSinceJoin = 0;
    });
    consumer.on(consumer.events.FETCH, () => {
      if (fetchesSinceJoin < 0) return;
      fetchesSinceJoin += 1;
      // The first fetch after a join may precede the offset lookup; the second cannot.
      if (fetchesSinceJoin === 2) whenIdle().catch((error: unknown) => fail?.(error));
    });
  }
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        if (onMessage(partition, message)) finish?.();
      },
    });
    await done;
  } finally {
    clearTimeout(timer);
  }
}
