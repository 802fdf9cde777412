/**
 * The consuming half of the Kafka event log. It lives here, beside the producer, rather than in
 * aggregator/: it is the aggregator role's entry point in scale-out mode, but everything it
 * knows is the log's (kafkajs, the topic's message format and tenant header, the dead-letter
 * topic and its headers, offset commits, partition concurrency). The aggregator's own part,
 * the duplicate check and insert, comes in as the port's `EventSink`, exactly as it does for the
 * embedded writer, so aggregator/ depends on the port only and never on Kafka or on ingest.
 */
import { randomUUID } from 'node:crypto';
import type { Consumer, EachBatchPayload, Producer } from 'kafkajs';
import { backoffDelay } from '../platform/backoff.js';
import type { Logger } from '../platform/logger.js';
import type { Metrics } from '../platform/metrics.js';
import type { EventSink, MeteredEvent } from './event-log.js';
import { TENANT_HEADER, type DeadLetterReason, type DecodedMessage } from './event-message.js';

export interface KafkaAggregatorDeps {
  readonly consumer: Consumer;
  /** Sends dead letters (acks=all). */
  readonly producer: Producer;
  readonly topic: string;
  readonly deadLetterTopic: string;
  readonly sink: EventSink;
  readonly decode: (value: Buffer | null, tenant: string | undefined, producedAt: number) => Promise<DecodedMessage>;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** Cap of the backoff between attempts while the store fails. */
  readonly retryMaxMs: number;
  readonly retryBaseMs?: number;
  /** Partitions worked on at once; each partition's batches stay in order. */
  readonly concurrency?: number;
  /** Most events in one insert; a larger fetched batch is stored in several, in order. */
  readonly maxInsertEvents?: number;
  /**
   * Fault injection for tests: called after a batch is inserted and before its offsets are
   * committed. The crash tests make it kill the process right there.
   */
  readonly afterInsert?: (inserted: number) => void;
  /** Told of the events each insert stored. */
  readonly onStored?: (events: readonly MeteredEvent[]) => void;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The offset to commit after processing a batch: Kafka commits name the next offset to read. */
export function nextOffset(lastOffset: string): string {
  return (BigInt(lastOffset) + 1n).toString();
}

/**
 * The aggregator role in scale-out mode: a consumer group over the events topic. For each batch
 * of a partition it dead-letters what can never be stored, deduplicates and inserts the rest,
 * and only then commits the batch's offsets. A failing store is retried with capped backoff for
 * as long as it takes (the partition waits; nothing is dropped). A crash anywhere before the
 * commit redelivers the batch, and the duplicate check makes the second delivery a no-op.
 */
export function buildKafkaAggregator(deps: KafkaAggregatorDeps) {
  const { consumer, producer, topic, deadLetterTopic, sink, decode, log, metrics, retryMaxMs, afterInsert } = deps;
  const retryBaseMs = deps.retryBaseMs ?? 100;

  /** Retries `work` until it succeeds or the batch no longer belongs to this consumer. */
  async function persistently<T>(what: string, payload: EachBatchPayload, work: () => Promise<T>): Promise<T | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await work();
      } catch (error) {
        if (!payload.isRunning() || payload.isStale()) return undefined;
        const delay = backoffDelay(attempt, retryBaseMs, retryMaxMs);
        metrics.storeRetries.inc();
        log.warn({ err: error, attempt, delayMs: delay, partition: payload.batch.partition }, `${what} failed; retrying`);
        // Sleep in slices so the group keeps hearing from this member.
        for (let waited = 0; waited < delay; waited += 1_000) {
          await sleep(Math.min(1_000, delay - waited));
          await payload.heartbeat().catch(() => undefined);
        }
        if (!payload.isRunning() || payload.isStale()) return undefined;
      }
    }
  }

  async function eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    if (batch.messages.length === 0) return;
    // Lag including this batch: while the store is down and the batch waits, the gauge shows it.
    metrics.consumerLag.labels(String(batch.partition)).set(Number(batch.offsetLagLow()));
    metrics.consumedMessages.inc(batch.messages.length);
    const events: MeteredEvent[] = [];
    const dead: Array<{ reason: DeadLetterReason; detail: string; offset: string; value: Buffer | null; key: Buffer | null; headers: Record<string, string> }> = [];
    for (const message of batch.messages) {
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(message.headers ?? {})) {
        if (value !== undefined) headers[name] = Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
      }
      const decoded = await decode(message.value, headers[TENANT_HEADER], Number(message.timestamp));
      if (decoded.ok) events.push(decoded.event);
      else dead.push({ reason: decoded.reason, detail: decoded.detail, offset: message.offset, value: message.value, key: message.key, headers });
    }

    if (dead.length > 0) {
      // Dead letters are durable before the offsets that cover them are committed.
      const sent = await persistently('dead-letter produce', payload, () =>
        producer.send({
          topic: deadLetterTopic,
          acks: -1,
          messages: dead.map((letter) => ({
            key: letter.key,
            value: letter.value,
            headers: {
              ...letter.headers,
              'meterline-dlq-reason': letter.reason,
              'meterline-dlq-detail': letter.detail.slice(0, 2_000),
              'meterline-dlq-source': `${batch.topic}/${batch.partition}/${letter.offset}`,
            },
          })),
        }),
      );
      if (sent === undefined) return;
      for (const letter of dead) metrics.deadLetters.labels(letter.reason).inc();
      log.warn({ partition: batch.partition, count: dead.length, reasons: [...new Set(dead.map((d) => d.reason))] }, 'messages dead-lettered');
    }

    const chunk = deps.maxInsertEvents ?? 20_000;
    for (let start = 0; start < events.length; start += chunk) {
      const part = events.slice(start, start + chunk);
      const started = performance.now();
      const token = randomUUID();
      const outcome = await persistently('insert', payload, async () => {
        // Planned again on every attempt: an attempt that was written but whose answer was lost
        // leaves its ids stored, and the retry then inserts nothing.
        const plan = await sink.plan(part);
        const rows = plan.fresh.length > 0 ? await sink.insert(plan.fresh, token) : 0;
        return { plan, rows };
      });
      if (outcome === undefined) return;
      const duplicates = part.length - outcome.plan.fresh.length;
      if (duplicates > 0) metrics.dedupeHits.inc(duplicates);
      metrics.insertBatchEvents.observe(part.length);
      metrics.insertDuration.observe((performance.now() - started) / 1000);
      if (outcome.plan.fresh.length > 0) deps.onStored?.(outcome.plan.fresh);
      afterInsert?.(outcome.plan.fresh.length);
    }

    const last = batch.lastOffset();
    payload.resolveOffset(last);
    await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: nextOffset(last) }]);
    metrics.consumerLag.labels(String(batch.partition)).set(Number(batch.offsetLag()));
    await payload.heartbeat();
  }

  return {
    async start(): Promise<void> {
      await consumer.connect();
      await producer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        // Partitions never share an event id (all copies share a key), so they can be stored side by side.
        partitionsConsumedConcurrently: deps.concurrency ?? 1,
        eachBatch,
      });
    },
    async stop(): Promise<void> {
      // disconnect() lets the batch in hand finish and commit before leaving the group.
      await consumer.disconnect();
      await producer.disconnect();
    },
  };
}
