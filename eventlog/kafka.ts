/**
 * The Kafka client and the topics, beside the two adapters that use them rather than in
 * platform/: only the event log talks to Kafka, and the topics created here are the log's own
 * (the events topic, its dead-letter topic, their replication). Platform keeps what several
 * modules share, such as the Kafka settings in `KafkaConfig`.
 */
import { Kafka, logLevel, type LogEntry } from 'kafkajs';
import type { KafkaConfig } from '../platform/config.js';
import type { Logger } from '../platform/logger.js';

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** A kafkajs client whose log lines go through the service's logger. */
export function createKafka(config: KafkaConfig, log: Logger): Kafka {
  const kafkaLog = log.child({ component: 'kafka' });
  return new Kafka({
    clientId: config.clientId,
    brokers: [...config.brokers],
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log: entry }: LogEntry) => {
        const { message, ...rest } = entry;
        kafkaLog[LEVELS[level] ?? 'info'](rest, message);
      },
    retry: { initialRetryTime: 200, retries: 8, maxRetryTime: 5_000 },
  });
}

/** Creates the events and dead-letter topics when they do not exist yet. */
export async function ensureTopics(kafka: Kafka, config: KafkaConfig, log: Logger): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const wanted = [
      { topic: config.topic, numPartitions: config.partitions },
      { topic: config.deadLetterTopic, numPartitions: 1 },
    ].filter((spec) => !existing.has(spec.topic));
    if (wanted.length > 0) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: wanted.map((spec) => ({
          ...spec,
          replicationFactor: config.replicationFactor,
          configEntries: [{ name: 'min.insync.replicas', value: String(Math.min(2, config.replicationFactor)) }],
        })),
      });
      log.info({ topics: wanted.map((spec) => spec.topic) }, 'kafka topics created');
    }
  } finally {
    await admin.disconnect();
  }
}
