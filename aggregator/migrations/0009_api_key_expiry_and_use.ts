import type { Migration } from './migration.js';

/**
 * Keys may expire, and each key's last use is kept. The last use lives in a table of its own,
 * written in batches by the process that saw the use: rewriting the key's row for it would race
 * with a revocation and could bring a revoked key back.
 */
export const migration: Migration = {
  version: 9,
  name: 'api_key_expiry_and_use',
  statements: (t) => [
    `ALTER TABLE ${t('api_keys')} ADD COLUMN IF NOT EXISTS expires_at Nullable(DateTime64(3, 'UTC'))`,
    `CREATE TABLE IF NOT EXISTS ${t('api_key_usage')} (
      tenant_id String,
      key_id String,
      last_used_at DateTime64(3, 'UTC')
    ) ENGINE = ReplacingMergeTree(last_used_at) ORDER BY (tenant_id, key_id)`,
  ],
};
