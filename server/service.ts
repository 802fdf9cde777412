import type { Kafka } from 'kafkajs';
import { buildEventSink, isMigrated, migrate } from '../aggregator/index.js';
import {
  buildAlertActions,
  buildAlertEngine,
  buildAlertRules,
  buildAlertStore,
  buildOutbox,
  buildWebhookEndpoints,
  type AlertEngine,
  type AlertRules,
  type AlertStore,
  type Outbox,
  type WebhookEndpoints,
} from '../alerts/index.js';
import { buildCatalog, type Catalog } from '../catalog/index.js';
import {
  buildEventWriter,
  buildKafkaAggregator,
  buildKafkaEventLog,
  createKafka,
  decodeEventMessage,
  ensureTopics,
  type EventLog,
  type EventSink,
} from '../eventlog/index.js';
import { buildIngest } from '../ingest/index.js';
import { buildCharges, buildPlansContracts, buildRatingLoop, type ChargesService, type PlansContracts, type RatingLoop } from '../rater/index.js';
import type { Config, KafkaConfig } from '../platform/config.js';
import type { Logger } from '../platform/logger.js';
import { limitsFor } from '../platform/limits.js';
import { buildMetrics, type Metrics } from '../platform/metrics.js';
import { buildNetworkPolicy, type NetworkPolicy } from '../platform/network-policy.js';
import { openStore, type Store } from '../platform/store.js';
import { buildApp, type App } from './app.js';
import { createShutdown, type Shutdown } from './shutdown.js';

export interface Service {
  readonly app: App;
  readonly store: Store;
  readonly metrics: Metrics;
  /** Where the api role hands accepted events (absent in an aggregator-only process). */
  readonly eventLog?: EventLog;
  /** The alerts role's parts, when this process runs it (tests drive them directly). */
  readonly alerts?: AlertsRole;
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

interface AlertsRole {
  readonly engine: AlertEngine;
  readonly outbox: Outbox;
}

/**
 * The roles further down the flow that this process runs, for the hints roles pass forward:
 * stored events and changed terms to the rater (and its latest figures back to the charges
 * reads), new figures to the alert engine, new deliveries to the outbox. Upstream is wired
 * first, so each downstream role is set here once it is built; where a process does not run
 * it, the hint goes nowhere and that role, in its own process, finds the work on its next cycle.
 */
interface Downstream {
  rater?: RatingLoop;
  alerts?: AlertsRole;
}

/** What every role's wiring gets. */
interface Wiring {
  readonly config: Config;
  readonly options: ServiceOptions;
  readonly store: Store;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly now: () => number;
  readonly catalog: Catalog;
  /** The aggregator's dedupe and insert: the embedded event log writes through it, the Kafka producer asks it what is stored. */
  readonly sink: EventSink;
  readonly shutdown: Shutdown;
  readonly downstream: Downstream;
}

/** Plans, contracts, charges and alert settings: the records the api serves and the rater and alerts work from. */
interface Records {
  readonly plans: PlansContracts;
  readonly charges: ChargesService;
  readonly alertRules: AlertRules;
  readonly endpoints: WebhookEndpoints;
  readonly alertStore: AlertStore;
  readonly networkPolicy: NetworkPolicy;
}

/**
 * Wires the roles this process runs, in the order of the flow: ingest → event log → aggregator
 * → rater → alerts, the HTTP server last; main.ts and the tests both start it this way.
 */
export async function startService(config: Config, log: Logger, options: ServiceOptions = {}): Promise<Service> {
  const opened = await openStore(config.store, log);
  const store = options.wrapStore ? options.wrapStore(opened) : opened;
  const shutdown = createShutdown(log);
  shutdown.add('store', () => store.close());
  try {
    await migrate(store, log);
    const now = options.now ?? Date.now;
    const catalog = buildCatalog({
      store,
      log,
      cacheTtlMs: config.catalogCacheTtlMs,
      now,
      ...(options.keyUseFlushMs !== undefined ? { keyUseFlushMs: options.keyUseFlushMs } : {}),
    });
    const { generatedKey } = await catalog.ensureOperator(config.defaultTenant, config.adminKey);
    // Closed after the HTTP server, so the last requests' key uses are written.
    shutdown.add('key usage', () => catalog.close());
    const w: Wiring = {
      config,
      options,
      store,
      log,
      metrics: buildMetrics(),
      now,
      catalog,
      sink: buildEventSink({ store, dedupeWindowMs: config.dedupeWindowMs, now }),
      shutdown,
      downstream: {},
    };
    const kafka = config.kafka ? await openKafka(config.kafka, log) : undefined;

    const eventLog = await wireEventLog(w, kafka);
    if (kafka && config.roles.has('aggregator')) await wireAggregator(w, kafka);
    const records = wireRecords(w);
    if (config.roles.has('rater')) w.downstream.rater = wireRater(w, records);
    if (config.roles.has('alerts')) w.downstream.alerts = wireAlerts(w, records);
    const app = await wireApi(w, records, eventLog);

    return {
      app,
      store,
      metrics: w.metrics,
      ...(eventLog ? { eventLog } : {}),
      ...(w.downstream.alerts ? { alerts: w.downstream.alerts } : {}),
      ...(generatedKey ? { generatedOperatorKey: generatedKey } : {}),
      close: () => shutdown.close(),
    };
  } catch (error) {
    await shutdown.close();
    throw error;
  }
}

/** The Kafka client with its configuration, once the topics exist. */
interface KafkaLink {
  readonly client: Kafka;
  readonly config: KafkaConfig;
}

async function openKafka(config: KafkaConfig, log: Logger): Promise<KafkaLink> {
  const client = createKafka(config, log);
  await ensureTopics(client, config, log);
  return { client, config };
}

/**
 * api → event log: where accepted events go. Embedded, the event writer inserts them through
 * the aggregator's sink before the request is answered (so api and aggregator run together);
 * with Kafka, the api role produces them to the topic. Absent in a process without the api role.
 */
async function wireEventLog(w: Wiring, kafka: KafkaLink | undefined): Promise<EventLog | undefined> {
  const { config, metrics, downstream } = w;
  if (!kafka) {
    const writer = buildEventWriter({
      sink: w.sink,
      log: w.log,
      maxBatchEvents: config.batchMaxEvents,
      maxWaitMs: config.batchMaxWaitMs,
      onStored: (events) => downstream.rater?.markStored(events),
      onFlush: (stats) => {
        metrics.insertDuration.observe(stats.seconds);
        metrics.insertBatchEvents.observe(stats.events);
        if (stats.attempts > 1) metrics.insertRetries.inc(stats.attempts - 1);
        if (!stats.ok) metrics.insertFailures.inc();
        if (stats.duplicates > 0) metrics.dedupeHits.inc(stats.duplicates);
      },
    });
    w.shutdown.add('event writer', () => writer.close());
    return writer;
  }
  if (!config.roles.has('api')) return undefined;
  const producer = kafka.client.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  w.shutdown.add('kafka producer', () => producer.disconnect());
  const eventLog = buildKafkaEventLog({
    producer,
    topic: kafka.config.topic,
    log: w.log,
    timeoutMs: kafka.config.produceTimeoutMs,
    subjectOwners: (tenantId) => w.catalog.subjectOwners(tenantId),
    findStored: async (events) => (await w.sink.plan(events)).duplicate,
    onProduced: (seconds, ok) => {
      metrics.produceDuration.observe(seconds);
      if (!ok) metrics.produceErrors.inc();
    },
  });
  w.shutdown.add('kafka event log', () => eventLog.close());
  return eventLog;
}

/** event log → aggregator, with Kafka: a consumer group member that holds consumed events to ingest's rules and stores them. */
async function wireAggregator(w: Wiring, kafka: KafkaLink): Promise<void> {
  const { config, catalog } = w;
  const kafkaConfig = kafka.config;
  const aggregator = buildKafkaAggregator({
    consumer: kafka.client.consumer({
      groupId: kafkaConfig.groupId,
      maxWaitTimeInMs: kafkaConfig.maxWaitMs,
      maxBytesPerPartition: 16 * 1024 * 1024,
      maxBytes: 64 * 1024 * 1024,
    }),
    producer: kafka.client.producer({ idempotent: true, maxInFlightRequests: 1 }),
    topic: kafkaConfig.topic,
    deadLetterTopic: kafkaConfig.deadLetterTopic,
    sink: w.sink,
    decode: (value, tenant, producedAt) =>
      decodeEventMessage(value, tenant, {
        tenantExists: (id) => catalog.tenantExists(id),
        metersOf: (id) => catalog.listMeters(id),
        producedAt,
        futureToleranceMs: config.futureToleranceMs,
        backfillHorizonMs: config.backfillHorizonMs,
      }),
    log: w.log,
    metrics: w.metrics,
    retryMaxMs: kafkaConfig.storeRetryMaxMs,
    concurrency: kafkaConfig.concurrency,
    maxInsertEvents: kafkaConfig.maxBatchEvents,
    onStored: (events) => w.downstream.rater?.markStored(events),
    ...(w.options.afterInsert ? { afterInsert: w.options.afterInsert } : {}),
  });
  await aggregator.start();
  w.shutdown.add('kafka aggregator', () => aggregator.stop());
}

/** Built in every process: a change of terms tells the rater which customers to rate again. */
function wireRecords(w: Wiring): Records {
  const { store, catalog, now, downstream } = w;
  const plans = buildPlansContracts({
    store,
    catalog,
    now,
    onTermsChanged: (tenantId, customerIds) => {
      for (const customerId of customerIds) downstream.rater?.markCustomer(tenantId, customerId);
    },
    onPlanVersion: (tenantId) => downstream.rater?.invalidateTenant(tenantId),
  });
  const charges = buildCharges({
    store,
    catalog,
    plans,
    now,
    cached: (tenantId, customerId, subjects, asOf) => downstream.rater?.cached(tenantId, customerId, subjects, asOf),
  });
  const networkPolicy = buildNetworkPolicy({ allowNetworks: w.config.alerts.webhookAllowNetworks });
  return {
    plans,
    charges,
    alertRules: buildAlertRules({ store, catalog, plans, now }),
    endpoints: buildWebhookEndpoints({ store, catalog, networkPolicy, now }),
    alertStore: buildAlertStore(store, now),
    networkPolicy,
  };
}

/** aggregator → rater: rates again the customers whose usage or terms changed, then wakes the alert engine. */
function wireRater(w: Wiring, { charges }: Records): RatingLoop {
  const { config, catalog, downstream } = w;
  const loop = buildRatingLoop({
    store: w.store,
    log: w.log,
    metrics: w.metrics,
    subjectOwners: (tenantId) => catalog.subjectOwners(tenantId),
    rate: (tenantId, customerIds) => charges.rateCustomers(tenantId, customerIds),
    intervalMs: config.raterIntervalMs,
    retryMaxMs: config.raterRetryMaxMs,
    onRated: () => downstream.alerts?.engine.wake(),
    now: w.now,
  });
  loop.start();
  w.shutdown.add('rater', () => loop.stop());
  return loop;
}

/** rater → alerts: the engine evaluates the rated figures against the rules; the outbox delivers what fired. */
function wireAlerts(w: Wiring, records: Records): AlertsRole {
  const { config, log, metrics, now } = w;
  const outbox = buildOutbox({
    alertStore: records.alertStore,
    endpoints: records.endpoints,
    config: config.alerts,
    log,
    metrics,
    networkPolicy: records.networkPolicy,
    now,
  });
  outbox.start();
  w.shutdown.add('alert outbox', () => outbox.stop());
  const engine = buildAlertEngine({
    store: w.store,
    log,
    metrics,
    catalog: w.catalog,
    plans: records.plans,
    charges: records.charges,
    rules: records.alertRules,
    endpoints: records.endpoints,
    alertStore: records.alertStore,
    publicUrl: config.alerts.publicUrl,
    intervalMs: config.alerts.intervalMs,
    onDeliveries: () => outbox.wake(),
    now,
  });
  engine.start();
  w.shutdown.add('alert engine', () => engine.stop());
  return { engine, outbox };
}

/**
 * The HTTP server: the api role's event ingest, the records' routes and the operations
 * endpoints every process serves. Built last, so no request arrives before the roles behind it run.
 */
async function wireApi(w: Wiring, records: Records, eventLog: EventLog | undefined): Promise<App> {
  const { config, store, metrics, now, catalog, downstream } = w;
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
  const app = await buildApp({
    log: w.log,
    store,
    catalog,
    plans: records.plans,
    charges: records.charges,
    alerts: {
      rules: records.alertRules,
      endpoints: records.endpoints,
      actions: buildAlertActions(records.alertStore, now, () => downstream.alerts?.outbox.wake()),
    },
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
  w.shutdown.add('http', () => app.close());
  return app;
}
