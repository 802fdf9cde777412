import type { Migration } from './migration.js';

/**
 * Catalog tables. ClickHouse has no unique constraints, so each table is a ReplacingMergeTree
 * keyed by its natural identity and read with FINAL; the writers serialize their own checks.
 */
export const migration: Migration = {
  version: 1,
  name: 'catalog',
  statements: (t) => [
    `CREATE TABLE IF NOT EXISTS ${t('tenants')} (
      id String,
      name String,
      created_at DateTime64(3, 'UTC')
    ) ENGINE = ReplacingMergeTree ORDER BY id`,
    `CREATE TABLE IF NOT EXISTS ${t('api_keys')} (
      key_id String,
      tenant_id String,
      secret_hash String,
      scope LowCardinality(String),
      customer_id String,
      operator UInt8,
      created_at DateTime64(3, 'UTC'),
      revoked_at Nullable(DateTime64(3, 'UTC')),
      version UInt64
    ) ENGINE = ReplacingMergeTree(version) ORDER BY key_id`,
    `CREATE TABLE IF NOT EXISTS ${t('meters')} (
      tenant_id String,
      key String,
      name String,
      event_type String,
      aggregation LowCardinality(String),
      value_property String,
      group_by String,
      created_at DateTime64(3, 'UTC')
    ) ENGINE = ReplacingMergeTree ORDER BY (tenant_id, key)`,
    `CREATE TABLE IF NOT EXISTS ${t('customers')} (
      tenant_id String,
      id String,
      name String,
      timezone String,
      currency LowCardinality(String),
      billing_anchor_day UInt8,
      subjects Array(String),
      created_at DateTime64(3, 'UTC')
    ) ENGINE = ReplacingMergeTree ORDER BY (tenant_id, id)`,
  ],
};
