import type { Migration } from './migration.js';

/**
 * Rated snapshots: the rater appends one row per (customer, period) each time it re-rates, so
 * the latest row is the current figure and the rows before it are the history. The skip index
 * lets the rater find what was ingested since its watermark without reading old parts.
 */
export const migration: Migration = {
  version: 4,
  name: 'rated_charges',
  statements: (t) => [
    `CREATE TABLE IF NOT EXISTS ${t('rated_charges')} (
      tenant_id String,
      customer_id String,
      period_start DateTime64(3, 'UTC'),
      period_end DateTime64(3, 'UTC'),
      rated_at DateTime64(3, 'UTC'),
      currency LowCardinality(String),
      subtotal Decimal(38, 9),
      tax Decimal(38, 9),
      total Decimal(38, 9),
      statement String CODEC(ZSTD(3))
    ) ENGINE = MergeTree ORDER BY (tenant_id, customer_id, period_start, rated_at)`,
    `ALTER TABLE ${t('events')} ADD INDEX IF NOT EXISTS ingested_at_minmax ingested_at TYPE minmax GRANULARITY 1`,
  ],
};
