import type { Migration } from './migration.js';

/**
 * One table holds every accepted event and the values meters extract from it.
 *
 * An event yields one row per meter whose event type it matches (one row with meter_key '' when
 * none does); the first row also carries the raw event (is_raw = 1), so a meter defined later can
 * be backfilled. The rollups are projections, not materialized views: a projection is written
 * inside the same part as its rows, so an event, its meter values and their contribution to
 * the rollup become visible together or not at all, whatever moment a crash picks. Totals read
 * the usage_by_minute projection (test/usage.int.test.ts checks every usage query's plan).
 *
 * The table is sorted by (tenant_id, event_id) because the hottest read is the duplicate check
 * on every ingest batch; usage never reads the base rows, and a backfill scans one tenant.
 *
 * insert_deduplication_token plus non_replicated_deduplication_window makes a retried insert of
 * the same batch a no-op.
 */
export const migration: Migration = {
  version: 2,
  name: 'events',
  statements: (t) => [
    `CREATE TABLE IF NOT EXISTS ${t('events')} (
      tenant_id LowCardinality(String),
      meter_key LowCardinality(String),
      subject String,
      time DateTime64(3, 'UTC'),
      event_id String,
      is_raw UInt8,
      type LowCardinality(String),
      source String,
      data String,
      ingested_at DateTime64(3, 'UTC'),
      value Decimal(38, 9),
      value_key String,
      group_by String,
      PROJECTION usage_by_minute (
        SELECT
          tenant_id, meter_key, subject, group_by, toStartOfMinute(time) AS minute,
          sum(value), count(), max(value), min(value), uniqExact(value_key), argMax(value, time)
        GROUP BY tenant_id, meter_key, subject, group_by, minute
      )
    ) ENGINE = MergeTree
    PARTITION BY toYYYYMM(time)
    ORDER BY (tenant_id, event_id)
    SETTINGS non_replicated_deduplication_window = 10000`,
  ],
};
