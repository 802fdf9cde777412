import type { Migration } from './migration.js';

/**
 * Sums that cannot wrap, and rating failures that survive a restart.
 *
 * ClickHouse's sum over Decimal(38, 9) stays Decimal(38, 9) and wraps silently: two values of 29
 * integer digits (the documented limit) already overflow it. The usage_by_minute_wide projection
 * sums into Decimal256 (76 digits, 9 places): with at most 29 integer digits per value it holds
 * the exact sum of more events than a UInt64 count can number. It keeps every other aggregate
 * of usage_by_minute, so one projection answers each usage query. MATERIALIZE builds it for the
 * parts written before this migration (synchronously, so usage reads after start see it).
 *
 * rating_failures records, per customer, each failed rating and each recovery: the latest row
 * of a customer says whether it is failing, why, since when and how many attempts in a row
 * failed, so a restarted rater retries it with the same backoff instead of forgetting it. A
 * failing customer gets a row at every attempt (at least one per METERLINE_RATER_RETRY_MAX while a
 * rater runs), so the TTL drops history, not the state of a customer that is still failing.
 */
export const migration: Migration = {
  version: 7,
  name: 'wide_sums_rating_failures',
  statements: (t) => [
    `ALTER TABLE ${t('events')} ADD PROJECTION IF NOT EXISTS usage_by_minute_wide (
      SELECT
        tenant_id, meter_key, subject, group_by, toStartOfMinute(time) AS minute,
        sum(toDecimal256(value, 9)), count(), max(value), min(value), uniqExact(value_key), argMax(value, time)
      GROUP BY tenant_id, meter_key, subject, group_by, minute
    )`,
    `ALTER TABLE ${t('events')} MATERIALIZE PROJECTION usage_by_minute_wide SETTINGS mutations_sync = 2`,
    `CREATE TABLE IF NOT EXISTS ${t('rating_failures')} (
      tenant_id String,
      customer_id String,
      at DateTime64(3, 'UTC'),
      failing UInt8,
      kind LowCardinality(String),
      reason String,
      attempts UInt32,
      since DateTime64(3, 'UTC')
    ) ENGINE = MergeTree ORDER BY (tenant_id, customer_id, at)
    TTL toDateTime(at) + INTERVAL 90 DAY`,
  ],
};
