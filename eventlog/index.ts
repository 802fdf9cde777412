/**
 * The event log between ingest and the aggregator: the port, its embedded adapter (group commit
 * straight into the aggregator's sink) and its Kafka adapter (producer, consumer group, client
 * and topics), and the events topic's message codec. Ingest sees only `EventLog`, the
 * aggregator only `EventSink`; the service picks the adapter. The codec holds consumed events to
 * ingest's own validation (through ingest/index.ts), so an agent producing straight to the topic
 * meets the same rules as a request; ingest uses only this module's types.
 */
export {
  EventLogUnavailableError,
  type AppendResult,
  type BatchPlan,
  type EventLog,
  type EventSink,
  type MeteredEvent,
  type MeterReading,
} from './event-log.js';
export { buildEventWriter, type EventWriterDeps, type FlushStats } from './event-writer.js';
export {
  decodeEventMessage,
  encodeEventMessage,
  partitionKey,
  READINGS_ATTRIBUTE,
  TENANT_HEADER,
  type DeadLetterReason,
  type DecodedMessage,
  type DecodeContext,
  type EventMessage,
} from './event-message.js';
export { buildKafkaEventLog, type KafkaEventLogDeps } from './kafka-event-log.js';
export { buildKafkaAggregator, nextOffset, type KafkaAggregatorDeps } from './kafka-aggregator.js';
export { createKafka, ensureTopics } from './kafka.js';
