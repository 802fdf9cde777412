import { buildEventWriter, isMigrated, migrate } from '../aggregator/index.js';
import { buildCatalog } from '../catalog/index.js';
import { buildIngest } from '../ingest/index.js';
import type { Config } from '../platform/config.js';
import type { EventLog } from '../platform/event-log.js';
import type { Logger } from '../platform/logger.js';
import { buildMetrics, type Metrics } from '../platform/metrics.js';
import { openStore, type Store } from '../platform/store.js';
import { buildApp, type App } from './app.js';

export interface Service {
  readonly app: App;
  readonly store: Store;
  readonly metrics: Metrics;
  readonly eventLog: EventLog;
  /** The operator key, when this start generated it (shown once, never stored). */
  readonly generatedOperatorKey?: string;
  /** Stops taking requests, finishes in-flight batches, closes the store. */
  close(): Promise<void>;
}

export interface ServiceOptions {
  readonly now?: () => number;
  /** Fault injection for tests: wraps the opened store (e.g. to make inserts fail). */
  readonly wrapStore?: (store: Store) => Store;
}

/** Wires every part of the embedded pipeline; main.ts and the tests both start it this way. */
export async function startService(config: Config, log: Logger, options: ServiceOptions = {}): Promise<Service> {
  const opened = await openStore(config.store, log);
  const store = options.wrapStore ? options.wrapStore(opened) : opened;
  try {
    await migrate(store, log);
    const metrics = buildMetrics();
    const catalog = buildCatalog({ store, log, cacheTtlMs: config.catalogCacheTtlMs, ...(options.now ? { now: options.now } : {}) });
    const { generatedKey } = await catalog.ensureOperator(config.defaultTenant, config.adminKey);
    const eventLog = buildEventWriter({
      store,
      log,
      maxBatchEvents: config.batchMaxEvents,
      maxWaitMs: config.batchMaxWaitMs,
      dedupeWindowMs: config.dedupeWindowMs,
      ...(options.now ? { now: options.now } : {}),
      onFlush: (stats) => {
        metrics.insertDuration.observe(stats.seconds);
        metrics.insertBatchEvents.observe(stats.events);
        if (stats.attempts > 1) metrics.insertRetries.inc(stats.attempts - 1);
        if (!stats.ok) metrics.insertFailures.inc();
        if (stats.duplicates > 0) metrics.dedupeHits.inc(stats.duplicates);
      },
    });
    const ingest = buildIngest({
      catalog,
      eventLog,
      futureToleranceMs: config.futureToleranceMs,
      backfillHorizonMs: config.backfillHorizonMs,
      ...(options.now ? { now: options.now } : {}),
      onOutcome: (outcome, count) => metrics.ingestEvents.labels(outcome).inc(count),
    });
    const app = await buildApp({
      log,
      store,
      catalog,
      ingest,
      metrics,
      maxBodyBytes: config.maxBodyBytes,
      backfillHorizonMs: config.backfillHorizonMs,
      futureToleranceMs: config.futureToleranceMs,
      ...(options.now ? { now: options.now } : {}),
      ready: async () => {
        if (!(await store.ping())) return { ok: false, reason: 'store unreachable' };
        if (!(await isMigrated(store))) return { ok: false, reason: 'schema not migrated' };
        return { ok: true };
      },
    });
    let closing: Promise<void> | undefined;
    return {
      app,
      store,
      metrics,
      eventLog,
      ...(generatedKey ? { generatedOperatorKey: generatedKey } : {}),
      close() {
        closing ??= (async () => {
          await app.close();
          await eventLog.close();
          await store.close();
        })();
        return closing;
      },
    };
  } catch (error) {
    await store.close();
    throw error;
  }
}
