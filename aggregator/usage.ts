import { Decimal } from 'decimal.js';
import { DateTime } from 'luxon';
import type { Aggregation } from '../catalog/index.js';
import { InvalidRequestError } from '../platform/errors.js';
import { selectRows, settingsClause, type Store } from '../platform/store.js';
import { toClickHouseTime } from '../platform/time.js';

export const WINDOW_SIZES = ['MINUTE', 'HOUR', 'DAY', 'MONTH'] as const;
export type WindowSize = (typeof WINDOW_SIZES)[number];

/** Averages are the only aggregation that divides; they keep the stored scale, rounded half-even. */
const AvgDecimal = Decimal.clone({ precision: 60, rounding: Decimal.ROUND_HALF_EVEN });

/** An AVG meter's value: sum / count at the stored scale (9 places), rounded half-even. */
export function averageOf(sum: string, count: string): string {
  return new AvgDecimal(sum).div(count).toDecimalPlaces(9).toFixed();
}

/**
 * SQL fragments picked from fixed tables by enum: nothing from a request is pasted in.
 * Every expression is computable from the usage_by_minute_wide projection's keys and aggregates.
 */
const WINDOW_START: Record<WindowSize, string> = {
  MINUTE: 'toStartOfMinute(time)',
  HOUR: 'toStartOfInterval(toStartOfMinute(time), INTERVAL 1 HOUR, {tz:String})',
  DAY: 'toStartOfDay(toStartOfMinute(time), {tz:String})',
  MONTH: 'toDateTime(toStartOfMonth(toStartOfMinute(time), {tz:String}), {tz:String})',
};

const LUXON_UNIT: Record<WindowSize, 'minute' | 'hour' | 'day' | 'month'> = {
  MINUTE: 'minute',
  HOUR: 'hour',
  DAY: 'day',
  MONTH: 'month',
};

/**
 * Sums are taken in Decimal256: a Decimal(38, 9) sum stays Decimal(38, 9) and wraps past 29
 * integer digits. The usage_by_minute_wide projection (migration 7) holds exactly this aggregate.
 */
export const WIDE_SUM = 'sum(toDecimal256(value, 9))';

const VALUE_COLUMNS = `toString(${WIDE_SUM}) AS v_sum, toString(count()) AS v_count,
  toString(max(value)) AS v_max, toString(min(value)) AS v_min,
  toString(uniqExact(value_key)) AS v_unique, toString(argMax(value, time)) AS v_latest`;

/**
 * Usage reads are shaped so the usage_by_minute_wide projection answers them (test/usage.int.test.ts
 * checks each shape with EXPLAIN). force_optimize_projection is not set at run time: when the
 * primary key prunes every part (a period with no events) the engine reports that no projection
 * was used, and an empty period is not an error.
 */
const PROJECTION_ONLY = settingsClause({ optimize_use_projections: 1 });

interface ValueColumns {
  v_sum: string;
  v_count: string;
  v_max: string;
  v_min: string;
  v_unique: string;
  v_latest: string;
}

function valueOf(aggregation: Aggregation, row: ValueColumns): string {
  switch (aggregation) {
    case 'SUM':
      return row.v_sum;
    case 'COUNT':
      return row.v_count;
    case 'MAX':
      return row.v_max;
    case 'MIN':
      return row.v_min;
    case 'UNIQUE_COUNT':
      return row.v_unique;
    case 'LATEST':
      return row.v_latest;
    case 'AVG':
      return averageOf(row.v_sum, row.v_count);
  }
}

export interface UsageMeter {
  readonly key: string;
  readonly aggregation: Aggregation;
  readonly groupBy: Record<string, string>;
}

export interface MeterQuery {
  readonly tenantId: string;
  readonly meter: UsageMeter;
  /** Inclusive start, on a whole minute. */
  readonly from: Date;
  /** Exclusive end, on a whole minute. */
  readonly to: Date;
  /** Restricts to these subjects (a customer's); undefined means every subject. */
  readonly subjects?: readonly string[];
  readonly windowSize?: WindowSize;
  readonly windowTimeZone: string;
  /** Group-by dimensions of the meter to split by. */
  readonly groupBy: readonly string[];
  /** Split by subject as well. */
  readonly bySubject: boolean;
}

export interface UsageRow {
  readonly windowStart: string;
  readonly windowEnd: string;
  readonly subject?: string;
  readonly groupBy: Record<string, string | null>;
  readonly value: string;
}

function assertWholeMinute(name: string, instant: Date): void {
  if (instant.getTime() % 60_000 !== 0) {
    throw new InvalidRequestError(`${name} must fall on a whole minute (usage is kept per minute)`, name);
  }
}

export interface Statement {
  readonly sql: string;
  readonly params: Record<string, unknown>;
}

/** The SELECT behind queryMeterUsage; exported so its plan can be checked. */
export function meterUsageStatement(store: Store, query: MeterQuery): Statement {
  const { meter, from, to } = query;
  assertWholeMinute('from', from);
  assertWholeMinute('to', to);
  if (from.getTime() >= to.getTime()) throw new InvalidRequestError('from must be before to', 'from');
  for (const dim of query.groupBy) {
    if (!Object.hasOwn(meter.groupBy, dim)) {
      throw new InvalidRequestError(`meter ${meter.key} has no group-by dimension ${dim}`, 'groupBy');
    }
  }
  const params: Record<string, unknown> = {
    tenantId: query.tenantId,
    meterKey: meter.key,
    from: toClickHouseTime(from),
    to: toClickHouseTime(to),
    tz: query.windowTimeZone,
  };
  const select: string[] = [];
  const groupKeys: string[] = [];
  if (query.windowSize) {
    select.push(`toUnixTimestamp(${WINDOW_START[query.windowSize]}) AS window_start`);
    groupKeys.push('window_start');
  }
  if (query.bySubject) {
    select.push('subject');
    groupKeys.push('subject');
  }
  query.groupBy.forEach((dim, index) => {
    params[`dim${index}`] = dim;
    select.push(`JSONExtract(group_by, {dim${index}:String}, 'Nullable(String)') AS dim${index}`);
    groupKeys.push(`dim${index}`);
  });
  let where = `tenant_id = {tenantId:String} AND meter_key = {meterKey:String}
    AND toStartOfMinute(time) >= {from:DateTime64(3, 'UTC')} AND toStartOfMinute(time) < {to:DateTime64(3, 'UTC')}`;
  if (query.subjects !== undefined) {
    params.subjects = query.subjects;
    where += ' AND subject IN {subjects:Array(String)}';
  }
  const sql = `SELECT ${[...select, VALUE_COLUMNS].join(', ')}
    FROM ${store.table('events')}
    WHERE ${where}
    ${groupKeys.length > 0 ? `GROUP BY ${groupKeys.join(', ')} ORDER BY ${groupKeys.join(', ')}` : ''}
    ${PROJECTION_ONLY}`;
  return { sql, params };
}

/** Usage of one meter, in windows or as one total per group; only windows with events appear. */
export async function queryMeterUsage(store: Store, query: MeterQuery): Promise<UsageRow[]> {
  const { from, to, meter } = query;
  const { sql, params } = meterUsageStatement(store, query);
  const rows = await selectRows<ValueColumns & Record<string, unknown>>(store, sql, params);
  return rows
    .filter((row) => row.v_count !== '0')
    .map((row) => {
      let windowStart = from;
      let windowEnd = to;
      if (query.windowSize) {
        const start = DateTime.fromSeconds(Number(row.window_start), { zone: query.windowTimeZone });
        windowStart = start.toJSDate();
        windowEnd = start.plus({ [LUXON_UNIT[query.windowSize]]: 1 }).toJSDate();
      }
      const groupBy: Record<string, string | null> = {};
      query.groupBy.forEach((dim, index) => {
        groupBy[dim] = (row[`dim${index}`] as string | null | undefined) ?? null;
      });
      return {
        windowStart: windowStart.toISOString(),
        windowEnd: windowEnd.toISOString(),
        ...(query.bySubject ? { subject: String(row.subject) } : {}),
        groupBy,
        value: valueOf(meter.aggregation, row),
      };
    });
}

export interface MeterTotal {
  readonly key: string;
  readonly aggregation: Aggregation;
  readonly value: string | null;
  readonly groupBy?: Array<{ group: Record<string, string | null>; value: string }>;
}

/** The two SELECTs behind queryMeterTotals (totals, then per-group splits); exported so their plans can be checked. */
export function meterTotalsStatements(
  store: Store,
  tenantId: string,
  meterKeys: readonly string[],
  subjects: readonly string[],
  from: Date,
  to: Date,
): [Statement, Statement] {
  const params = { tenantId, meterKeys, subjects, from: toClickHouseTime(from), to: toClickHouseTime(to) };
  const where = `tenant_id = {tenantId:String} AND meter_key IN {meterKeys:Array(String)}
    AND subject IN {subjects:Array(String)}
    AND toStartOfMinute(time) >= {from:DateTime64(3, 'UTC')} AND toStartOfMinute(time) < {to:DateTime64(3, 'UTC')}`;
  return [
    {
      sql: `SELECT meter_key, ${VALUE_COLUMNS} FROM ${store.table('events')} WHERE ${where} GROUP BY meter_key ${PROJECTION_ONLY}`,
      params,
    },
    {
      sql: `SELECT meter_key, group_by, ${VALUE_COLUMNS} FROM ${store.table('events')} WHERE ${where}
        AND group_by != '{}' GROUP BY meter_key, group_by ORDER BY meter_key, group_by ${PROJECTION_ONLY}`,
      params,
    },
  ];
}

/** Totals of every meter over [from, to) for a set of subjects, with per-group splits where a meter has dimensions. */
export async function queryMeterTotals(
  store: Store,
  tenantId: string,
  meters: readonly UsageMeter[],
  subjects: readonly string[],
  from: Date,
  to: Date,
): Promise<MeterTotal[]> {
  if (meters.length === 0) return [];
  const statements = meterTotalsStatements(store, tenantId, meters.map((meter) => meter.key), subjects, from, to);
  // The per-group split is asked for only when some meter has dimensions to split by.
  const wanted = meters.some((meter) => Object.keys(meter.groupBy).length > 0) ? statements : statements.slice(0, 1);
  const [totals, groups] = await Promise.all(
    wanted.map(({ sql, params }) => selectRows<ValueColumns & { meter_key: string; group_by?: string }>(store, sql, params)),
  );
  return meters.map((meter) => {
    const total = totals?.find((row) => row.meter_key === meter.key);
    const hasDims = Object.keys(meter.groupBy).length > 0;
    const additive = meter.aggregation === 'SUM' || meter.aggregation === 'COUNT' || meter.aggregation === 'UNIQUE_COUNT';
    return {
      key: meter.key,
      aggregation: meter.aggregation,
      // No events in the range: sums and counts are zero; a maximum, minimum, latest or average has no value.
      value: total ? valueOf(meter.aggregation, total) : additive ? '0' : null,
      ...(hasDims
        ? {
            groupBy: (groups ?? [])
              .filter((row) => row.meter_key === meter.key)
              .map((row) => ({
                group: JSON.parse(row.group_by ?? '{}') as Record<string, string | null>,
                value: valueOf(meter.aggregation, row),
              })),
          }
        : {}),
    };
  });
}
