import { ensureKafka, type KafkaHandle } from './kafka.js';

let handle: KafkaHandle | undefined;

/**
 * Starts (or reuses) one real broker before the integration tests and stops it after, when it
 * was started here. Test processes find it through METERLINE_TEST_KAFKA_BROKERS.
 */
export async function setup(): Promise<void> {
  handle = await ensureKafka();
  process.env.METERLINE_TEST_KAFKA_BROKERS = handle.brokers.join(',');
}

export async function teardown(): Promise<void> {
  await handle?.stop();
}
