import type { Kafka } from 'kafkajs';
import { buildEventSink, isMigrated, migrate } from '../aggregator/index.js';
import { buildAlertActions, buildAlertEngine, buildAlertRules, buildAlertStore, buildOutbox, buildWebhookEndpoints, type AlertEngine, type Outbox } from '../alerts/index.js';
import { buildCatalog } from '../catalog/index.js';
import {
  buildEventWriter,
  buildKafkaAggregator,
  buildKafkaEventLog,
  createKafka,
  decodeEventMessage,
  ensureTopics,
  type EventLog,
} from '../eventlog/index.js';
import { buildIngest } from '../ingest/index.js';
import { buildCharges, buildPlansContracts, buildRatingLoop, type RatingLoop } from '../rater/index.js';
import type { Config, KafkaConfig } from '../platform/config.js';
import type { Logger } from '../platform/logger.js';
import { limitsFor } from '../platform/limits.js';
import { buildMetrics, type Metrics } from '../platform/metrics.js';
import { buildNetworkPolicy } from '../platform/network-policy.js';
import { openStore, type Store } from '../platform/store.js';
import { buildApp, type App } from './app.js';

export interface Service {
  readonly app: App;
  readonly store: Store;
  readonly metrics: Metrics;
  /** Where the api role hands accepted events (absent in an aggregator-only process). */
  readonly eventLog?: EventLog;
  /** The alerts role's parts, when this process runs it (tests drive them directly). */
  readonly alerts?: { readonly engine: AlertEngine; readonly outbox: Outbox };
  /** The operator key, when this start generated it (shown once, never stored). */
  readonly generatedOperatorKey?: string;
  /** Stops taking requests, finishes in-flight batches, closes the store. */
  close(): Promise<void>;
}

export interface ServiceOptions {
  readonly now?: () => number;
  /** Fault injection for tests: wraps the opened store (e.g. to make inserts fail). */
  readonly wrapStore?: (store: Store) => Store;
  /** Fault injection for tests: runs after the aggregator inserted a batch, before it commits. */
  readonly afterInsert?: (inserted: number) => void;
  /** How long key uses are gathered before they are written (tests lengthen it to see the batching). */
  readonly keyUseFlushMs?: number;
}

interface Part {
  readonly name: string;
  readonly close: () => Promise<void>;
}

/** Wires the roles this process runs; main.ts and the tests both start it this way. */
export async function startService(config: Config, log: Logger, options: ServiceOptions = {}): Promise<Service> {
  const opened = await openStore(config.store, log);
  const store = options.wrapStore ? options.wrapStore(opened) : opened;
  // Closed in reverse order of start: the HTTP server first, the store last.
  const parts: Part[] = [{ name: 'store', close: () => store.close() }];
  const closeAll = async () => {
    for (const part of [...parts].reverse()) {
      try {
        await part.close();
      } catch (error) {
        log.error({ err: error, part: part.name }, 'close failed');
      }
    }
  };
  try {
    await migrate(store, log);
    const metrics = buildMetrics();
    const now = options.now ?? Date.now;
    const catalog = buildCatalog({
      store,
      log,
      cacheTtlMs: config.catalogCacheTtlMs,
      now,
      ...(options.keyUseFlushMs !== undefined ? { keyUseFlushMs: options.keyUseFlushMs } : {}),
    });
    const { generatedKey } = await catalog.ensureOperator(config.defaultTenant, config.adminKey);
    // Closed after the HTTP server (parts close in reverse), so the last requests' key uses are written.
    parts.push({ name: 'key usage', close: () => catalog.close() });
    const sink = buildEventSink({ store, dedupeWindowMs: config.dedupeWindowMs, now });
    // Built once the charges exist (below); the event paths report stored events to it.
    let ratingLoop: RatingLoop | undefined;

    let eventLog: EventLog | undefined;
    if (!config.kafka) {
      eventLog = buildEventWriter({
        sink,
        log,
        maxBatchEvents: config.batchMaxEvents,
        maxWaitMs: config.batchMaxWaitMs,
        onStored: (events) => ratingLoop?.markStored(events),
        onFlush: (stats) => {
          metrics.insertDuration.observe(stats.seconds);
          metrics.insertBatchEvents.observe(stats.events);
          if (stats.attempts > 1) metrics.insertRetries.inc(stats.attempts - 1);
          if (!stats.ok) metrics.insertFailures.inc();
          if (stats.duplicates > 0) metrics.dedupeHits.inc(stats.duplicates);
        },
      });
      const writer = eventLog;
      parts.push({ name: 'event writer', close: () => writer.close() });
    } else {
      const kafkaConfig: KafkaConfig = config.kafka;
      const kafka: Kafka = createKafka(kafkaConfig, log);
      await ensureTopics(kafka, kafkaConfig, log);
      if (config.roles.has('aggregator')) {
        const aggregator = buildKafkaAggregator({
          consumer: kafka.consumer({
            groupId: kafkaConfig.groupId,
            maxWaitTimeInMs: kafkaConfig.maxWaitMs,
            maxBytesPerPartition: 16 * 1024 * 1024,
            maxBytes: 64 * 1024 * 1024,
          }),
          producer: kafka.producer({ idempotent: true, maxInFlightRequests: 1 }),
          topic: kafkaConfig.topic,
          deadLetterTopic: kafkaConfig.deadLetterTopic,
          sink,
          decode: (value, tenant, producedAt) =>
            decodeEventMessage(value, tenant, {
              tenantExists: (id) => catalog.tenantExists(id),
              metersOf: (id) => catalog.listMeters(id),
              producedAt,
              futureToleranceMs: config.futureToleranceMs,
              backfillHorizonMs: config.backfillHorizonMs,
            }),
          log,
          metrics,
          retryMaxMs: kafkaConfig.storeRetryMaxMs,
          concurrency: kafkaConfig.concurrency,
          maxInsertEvents: kafkaConfig.maxBatchEvents,
          onStored: (events) => ratingLoop?.markStored(events),
          ...(options.afterInsert ? { afterInsert: options.afterInsert } : {}),
        });
        await aggregator.start();
        parts.push({ name: 'kafka aggregator', close: () => aggregator.stop() });
      }
      if (config.roles.has('api')) {
        const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
        await producer.connect();
        parts.push({ name: 'kafka producer', close: () => producer.disconnect() });
        eventLog = buildKafkaEventLog({
          producer,
          topic: kafkaConfig.topic,
          log,
          timeoutMs: kafkaConfig.produceTimeoutMs,
          subjectOwners: (tenantId) => catalog.subjectOwners(tenantId),
          findStored: async (events) => (await sink.plan(events)).duplicate,
          onProduced: (seconds, ok) => {
            metrics.produceDuration.observe(seconds);
            if (!ok) metrics.produceErrors.inc();
          },
        });
        const kafkaEventLog = eventLog;
        parts.push({ name: 'kafka event log', close: () => kafkaEventLog.close() });
      }
    }

    const ingest = eventLog
      ? buildIngest({
          catalog,
          eventLog,
          futureToleranceMs: config.futureToleranceMs,
          backfillHorizonMs: config.backfillHorizonMs,
          maxEventBytes: (tenantId) => limitsFor(config.limits, tenantId).maxEventBytes,
          now,
          onOutcome: (outcome, count) => metrics.ingestEvents.labels(outcome).inc(count),
        })
      : undefined;
    const plans = buildPlansContracts({
      store,
      catalog,
      now,
      onTermsChanged: (tenantId, customerIds) => {
        for (const customerId of customerIds) ratingLoop?.markCustomer(tenantId, customerId);
      },
      onPlanVersion: (tenantId) => ratingLoop?.invalidateTenant(tenantId),
    });
    const charges = buildCharges({
      store,
      catalog,
      plans,
      now,
      cached: (tenantId, customerId, subjects, asOf) => ratingLoop?.cached(tenantId, customerId, subjects, asOf),
    });
    const alertRules = buildAlertRules({ store, catalog, plans, now });
    const networkPolicy = buildNetworkPolicy({ allowNetworks: config.alerts.webhookAllowNetworks });
    const endpoints = buildWebhookEndpoints({ store, catalog, networkPolicy, now });
    const alertStore = buildAlertStore(store, now);
    let outbox: Outbox | undefined;
    let alertEngine: AlertEngine | undefined;
    if (config.roles.has('alerts')) {
      const sender = buildOutbox({ alertStore, endpoints, config: config.alerts, log, metrics, networkPolicy, now });
      outbox = sender;
      sender.start();
      parts.push({ name: 'alert outbox', close: () => sender.stop() });
      const engine = buildAlertEngine({
        store,
        log,
        metrics,
        catalog,
        plans,
        charges,
        rules: alertRules,
        endpoints,
        alertStore,
        publicUrl: config.alerts.publicUrl,
        intervalMs: config.alerts.intervalMs,
        onDeliveries: () => sender.wake(),
        now,
      });
      alertEngine = engine;
      engine.start();
      parts.push({ name: 'alert engine', close: () => engine.stop() });
    }
    const alertActions = buildAlertActions(alertStore, now, () => outbox?.wake());
    if (config.roles.has('rater')) {
      const loop = buildRatingLoop({
        store,
        log,
        metrics,
        subjectOwners: (tenantId) => catalog.subjectOwners(tenantId),
        rate: (tenantId, customerIds) => charges.rateCustomers(tenantId, customerIds),
        intervalMs: config.raterIntervalMs,
        retryMaxMs: config.raterRetryMaxMs,
        onRated: () => alertEngine?.wake(),
        now,
      });
      loop.start();
      ratingLoop = loop;
      parts.push({ name: 'rater', close: () => loop.stop() });
    }
    const app = await buildApp({
      log,
      store,
      catalog,
      plans,
      charges,
      alerts: { rules: alertRules, endpoints, actions: alertActions },
      ...(ingest ? { ingest } : {}),
      metrics,
      limits: config.limits,
      readyMaxAgeMs: config.readyMaxAgeMs,
      maxBodyBytes: config.maxBodyBytes,
      backfillHorizonMs: config.backfillHorizonMs,
      futureToleranceMs: config.futureToleranceMs,
      now,
      ready: async () => {
        if (!(await store.ping())) return { ok: false, reason: 'store unreachable' };
        if (!(await isMigrated(store))) return { ok: false, reason: 'schema not migrated' };
        return { ok: true };
      },
    });
    parts.push({ name: 'http', close: () => app.close() });
    let closing: Promise<void> | undefined;
    return {
      app,
      store,
      metrics,
      ...(eventLog ? { eventLog } : {}),
      ...(alertEngine && outbox ? { alerts: { engine: alertEngine, outbox } } : {}),
      ...(generatedKey ? { generatedOperatorKey: generatedKey } : {}),
      close() {
        closing ??= closeAll();
        return closing;
      },
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
