import type { Migration } from './migration.js';

/**
 * Alerting. Rules are append-only versions (the audit trail); the other tables hold the latest
 * row per key by `version` (ReplacingMergeTree, read with FINAL). Alert and delivery ids are
 * derived from what they report, so writing the same decision twice after a crash lands on the
 * same rows; a delivery's first row has version 0, so a repeat can never hide its later outcome.
 */
export const migration: Migration = {
  version: 5,
  name: 'alerts',
  statements: (t) => [
    `ALTER TABLE ${t('customers')} ADD COLUMN IF NOT EXISTS billing_contacts Array(String)`,
    `ALTER TABLE ${t('tenants')} ADD COLUMN IF NOT EXISTS operations_email String`,
    // The alert engine reads the figures rated since its watermark every cycle; parts are written
    // in rating order, so a min/max index on rated_at skips all but the newest.
    `ALTER TABLE ${t('rated_charges')} ADD INDEX IF NOT EXISTS rated_at_minmax rated_at TYPE minmax GRANULARITY 1`,
    `CREATE TABLE IF NOT EXISTS ${t('alert_rules')} (
      tenant_id String,
      rule_id String,
      version UInt32,
      customer_id String,
      kind LowCardinality(String),
      spec String,
      deleted UInt8,
      changed_by String,
      reason String,
      changed_at DateTime64(3, 'UTC')
    ) ENGINE = MergeTree ORDER BY (tenant_id, rule_id, version)`,
    `CREATE TABLE IF NOT EXISTS ${t('webhook_endpoints')} (
      tenant_id String,
      endpoint_id String,
      url String,
      customer_id String,
      secret String,
      disabled UInt8,
      disabled_reason String,
      created_at DateTime64(3, 'UTC'),
      updated_at DateTime64(3, 'UTC'),
      version UInt64
    ) ENGINE = ReplacingMergeTree(version) ORDER BY (tenant_id, endpoint_id)`,
    `CREATE TABLE IF NOT EXISTS ${t('alert_state')} (
      tenant_id String,
      rule_id String,
      customer_id String,
      state String,
      evaluated_at DateTime64(3, 'UTC'),
      version UInt64
    ) ENGINE = ReplacingMergeTree(version) ORDER BY (tenant_id, rule_id, customer_id)`,
    `CREATE TABLE IF NOT EXISTS ${t('alerts')} (
      tenant_id String,
      alert_id String,
      rule_id String,
      customer_id String,
      kind LowCardinality(String),
      status LowCardinality(String),
      period_start DateTime64(3, 'UTC'),
      period_end DateTime64(3, 'UTC'),
      details String,
      created_at DateTime64(3, 'UTC'),
      resolved_at Nullable(DateTime64(3, 'UTC')),
      acknowledged_at Nullable(DateTime64(3, 'UTC')),
      acknowledged_by String,
      version UInt64
    ) ENGINE = ReplacingMergeTree(version) ORDER BY (tenant_id, alert_id)`,
    `CREATE TABLE IF NOT EXISTS ${t('alert_deliveries')} (
      tenant_id String,
      delivery_id String,
      alert_id String,
      message_type LowCardinality(String),
      channel LowCardinality(String),
      target String,
      status LowCardinality(String),
      attempts UInt32,
      next_attempt_at DateTime64(3, 'UTC'),
      last_error String,
      created_at DateTime64(3, 'UTC'),
      updated_at DateTime64(3, 'UTC'),
      version UInt64
    ) ENGINE = ReplacingMergeTree(version) ORDER BY (tenant_id, delivery_id)`,
  ],
};
