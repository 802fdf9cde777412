import { z } from 'zod';
import type { Aggregation } from '../catalog/index.js';
import { averageOf, D, wideSum } from '../platform/money.js';
import { defineQuery, settingsClause, timeoutSettings, type StatementSettings, type Store, type TypedStatement } from '../platform/store.js';
import { toClickHouseTime } from '../platform/time.js';

/**
 * The usage queries, declared once: the period filter, the value columns, their row schemas and
 * what each aggregation makes of them. The per-request reads (aggregator/usage.ts) and the
 * batched reads of the rating loop (rater/usage-source.ts) are both built from these.
 */

/**
 * Sums are taken in Decimal256: a Decimal(38, 9) sum stays Decimal(38, 9) and wraps past 29
 * integer digits. The usage_by_minute_wide projection (migration 7) holds exactly this aggregate.
 */
export const WIDE_SUM = 'sum(toDecimal256(value, 9))';

/** Every aggregate a meter may ask for, computed at once so one read serves every aggregation. */
export const VALUE_COLUMNS = `toString(${WIDE_SUM}) AS v_sum, toString(count()) AS v_count,
  toString(max(value)) AS v_max, toString(min(value)) AS v_min,
  toString(uniqExact(value_key)) AS v_unique, toString(argMax(value, time)) AS v_latest`;

export const valueColumnsRow = z.object({
  v_sum: z.string(),
  v_count: z.string(),
  v_max: z.string(),
  v_min: z.string(),
  v_unique: z.string(),
  v_latest: z.string(),
});
export type ValueColumns = z.output<typeof valueColumnsRow>;

/** The value columns of one subject, with the instant of its latest value so subjects can be combined. */
export const subjectFiguresRow = valueColumnsRow.extend({ subject: z.string(), meter_key: z.string(), v_latest_time: z.string() });
export type SubjectFigures = z.output<typeof subjectFiguresRow>;

export const dailyMaximaRow = z.object({ subject: z.string(), meter_key: z.string(), day: z.string(), max: z.string() });

/** Which meters and subjects a period read covers; each choice is a fixed fragment, never request text. */
export interface PeriodScope {
  readonly meters: 'one' | 'many';
  readonly subjects: 'all' | 'listed';
}

/**
 * The period filter of every usage read: tenant first, the half-open [from, to) on whole minutes
 * (toStartOfMinute(time) so the minute projection can answer), parameters only.
 */
export function periodWhere(scope: PeriodScope): string {
  const meter = scope.meters === 'one' ? 'meter_key = {meterKey:String}' : 'meter_key IN {meterKeys:Array(String)}';
  const subjects = scope.subjects === 'listed' ? ' AND subject IN {subjects:Array(String)}' : '';
  return `tenant_id = {tenantId:String} AND ${meter}${subjects}
    AND toStartOfMinute(time) >= {from:DateTime64(3, 'UTC')} AND toStartOfMinute(time) < {to:DateTime64(3, 'UTC')}`;
}

/** The period bounds as query parameters. */
export function periodParams(from: Date, to: Date): { from: string; to: string } {
  return { from: toClickHouseTime(from), to: toClickHouseTime(to) };
}

/**
 * Usage reads are shaped so the usage_by_minute_wide projection answers them (test/usage.int.test.ts
 * checks each shape with EXPLAIN). force_optimize_projection is not set at run time: when the
 * primary key prunes every part (a period with no events) the engine reports that no projection
 * was used, and an empty period is not an error.
 */
const PROJECTION_SETTINGS: StatementSettings = { optimize_use_projections: 1 };

/** A usage statement's SETTINGS clause: the projection, and the engine-side timeout when one is given. */
export function usageSettings(timeoutMs: number | undefined): string {
  return settingsClause({ ...PROJECTION_SETTINGS, ...(timeoutMs !== undefined ? timeoutSettings(timeoutMs) : {}) });
}

/** A LIMIT clause from a config-validated count, never request text. */
export function limitClause(rows: number | undefined): string {
  if (rows === undefined) return '';
  if (!Number.isSafeInteger(rows) || rows < 1) throw new Error(`not a row limit: ${rows}`);
  return `LIMIT ${rows}`;
}

interface AggregationRule {
  /** The meter's value from one read's value columns. */
  readonly value: (row: ValueColumns) => string;
  /**
   * The value over several subjects' figures, exactly as one read over all of them would give;
   * undefined when it cannot be combined exactly (then the caller reads it directly).
   */
  readonly combine: (figures: readonly SubjectFigures[]) => string | undefined;
}

const sumOf = (figures: readonly SubjectFigures[], pick: (f: SubjectFigures) => string) => wideSum(figures.map(pick)).toFixed();

/** What each aggregation makes of the value columns: the one switch over aggregations. */
export const AGGREGATIONS: Readonly<Record<Aggregation, AggregationRule>> = {
  SUM: { value: (row) => row.v_sum, combine: (figures) => sumOf(figures, (f) => f.v_sum) },
  COUNT: { value: (row) => row.v_count, combine: (figures) => sumOf(figures, (f) => f.v_count) },
  MAX: { value: (row) => row.v_max, combine: (figures) => D.max(...figures.map((f) => f.v_max)).toFixed() },
  MIN: { value: (row) => row.v_min, combine: (figures) => D.min(...figures.map((f) => f.v_min)).toFixed() },
  LATEST: {
    value: (row) => row.v_latest,
    combine: (figures) =>
      [...figures].sort((a, b) => (a.v_latest_time < b.v_latest_time ? 1 : a.v_latest_time > b.v_latest_time ? -1 : 0))[0]?.v_latest,
  },
  AVG: {
    value: (row) => averageOf(row.v_sum, row.v_count),
    combine: (figures) => averageOf(sumOf(figures, (f) => f.v_sum), sumOf(figures, (f) => f.v_count)),
  },
  UNIQUE_COUNT: {
    value: (row) => row.v_unique,
    // Distinct values do not add up across subjects; one subject's figure is exact.
    combine: (figures) => (figures.length === 1 ? figures[0]?.v_unique : undefined),
  },
};

export function valueOf(aggregation: Aggregation, row: ValueColumns): string {
  return AGGREGATIONS[aggregation].value(row);
}

/** A meter's value over several subjects' figures ('0' when none has any); undefined when not exactly combinable. */
export function combineFigures(aggregation: Aggregation, figures: readonly SubjectFigures[]): string | undefined {
  if (figures.length === 0) return '0';
  return AGGREGATIONS[aggregation].combine(figures);
}

/** One batched read: many meters and subjects of one tenant over one span. */
export interface BatchedRead {
  readonly tenantId: string;
  readonly meterKeys: readonly string[];
  readonly subjects: readonly string[];
  readonly from: Date;
  readonly to: Date;
}

/** Per subject and meter, every value column over the span (the rating loop's batched totals). */
export function subjectFiguresStatement(store: Store, read: BatchedRead): TypedStatement<typeof subjectFiguresRow> {
  return {
    name: 'usage.subjectFigures',
    sql: `SELECT subject, meter_key, ${VALUE_COLUMNS}, toString(max(time)) AS v_latest_time
      FROM ${store.table('events')} WHERE ${periodWhere({ meters: 'many', subjects: 'listed' })}
      GROUP BY subject, meter_key ${usageSettings(undefined)}`,
    params: { tenantId: read.tenantId, meterKeys: [...read.meterKeys], subjects: [...read.subjects], ...periodParams(read.from, read.to) },
    row: subjectFiguresRow,
  };
}

/** Per subject, meter and local day of `timeZone`, the day's maximum (the rating loop's batched daily maxima). */
export function dailyMaximaStatement(store: Store, read: BatchedRead, timeZone: string): TypedStatement<typeof dailyMaximaRow> {
  return {
    name: 'usage.dailyMaxima',
    sql: `SELECT subject, meter_key, toString(toUnixTimestamp(toStartOfDay(toStartOfMinute(time), {tz:String}))) AS day, toString(max(value)) AS max
      FROM ${store.table('events')} WHERE ${periodWhere({ meters: 'many', subjects: 'listed' })}
      GROUP BY subject, meter_key, day ${usageSettings(undefined)}`,
    params: {
      tenantId: read.tenantId,
      meterKeys: [...read.meterKeys],
      subjects: [...read.subjects],
      ...periodParams(read.from, read.to),
      tz: timeZone,
    },
    row: dailyMaximaRow,
  };
}

/** Individual event values of one meter in time order (pricing models that need each event). */
export const eventValues = defineQuery({
  name: 'usage.eventValues',
  sql: (t) => `SELECT toString(value) AS value FROM ${t('events')}
    WHERE tenant_id = {tenantId:String} AND meter_key = {meterKey:String} AND subject IN {subjects:Array(String)}
      AND time >= {from:DateTime64(3, 'UTC')} AND time < {to:DateTime64(3, 'UTC')}
    ORDER BY time, event_id`,
  params: z.object({ tenantId: z.string(), meterKey: z.string(), subjects: z.array(z.string()), from: z.string(), to: z.string() }),
  row: z.object({ value: z.string() }),
});
