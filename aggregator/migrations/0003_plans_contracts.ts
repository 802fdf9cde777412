import type { Migration } from './migration.js';

/**
 * Plans and contracts are append-only: every change is a new version row, never an update, so
 * any past statement can be recomputed from the versions in force at the time.
 */
export const migration: Migration = {
  version: 3,
  name: 'plans_contracts',
  statements: (t) => [
    `CREATE TABLE IF NOT EXISTS ${t('plan_versions')} (
      tenant_id String,
      plan_key String,
      version UInt32,
      name String,
      currency LowCardinality(String),
      charges String,
      effective_from DateTime64(3, 'UTC'),
      created_at DateTime64(3, 'UTC'),
      created_by String
    ) ENGINE = MergeTree ORDER BY (tenant_id, plan_key, version)`,
    `CREATE TABLE IF NOT EXISTS ${t('contract_versions')} (
      tenant_id String,
      customer_id String,
      version UInt32,
      terms String,
      created_at DateTime64(3, 'UTC'),
      created_by String,
      reason String
    ) ENGINE = MergeTree ORDER BY (tenant_id, customer_id, version)`,
  ],
};
