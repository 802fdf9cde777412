import { DateTime } from 'luxon';
import type { Aggregation } from '../catalog/index.js';
import { InvalidRequestError } from '../platform/errors.js';
import { averageOf } from '../platform/money.js';
import { LimitExceededError } from '../platform/limits.js';
import { selectRows, settingsClause, timeoutSettings, type StatementSettings, type Store } from '../platform/store.js';
import { toClickHouseTime } from '../platform/time.js';

export const WINDOW_SIZES = ['MINUTE', 'HOUR', 'DAY', 'MONTH'] as const;
export type WindowSize = (typeof WINDOW_SIZES)[number];

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
const PROJECTION_SETTINGS: StatementSettings = { optimize_use_projections: 1 };

/** A usage statement's SETTINGS clause: the projection, and the engine-side timeout when one is given. */
function usageSettings(timeoutMs: number | undefined): string {
  return settingsClause({ ...PROJECTION_SETTINGS, ...(timeoutMs !== undefined ? timeoutSettings(timeoutMs) : {}) });
}

/** A LIMIT clause from a config-validated count, never request text. */
function limitClause(rows: number | undefined): string {
  if (rows === undefined) return '';
  if (!Number.isSafeInteger(rows) || rows < 1) throw new Error(`not a row limit: ${rows}`);
  return `LIMIT ${rows}`;
}

/**
 * Bounds on one usage answer. Rows and groups are read one past the limit, so an answer past it
 * is refused (422) without the engine ever sending, or this process parsing, all of it.
 */
export interface UsageLimits {
  readonly maxRows: number;
  readonly maxGroups: number;
  readonly maxWindows: number;
  /** The engine stops the statement past this; the caller gets a QueryTimeoutError. */
  readonly timeoutMs?: number;
}

/** Statement options: how many rows to read at most, and the engine-side timeout. */
export interface StatementOptions {
  readonly rowLimit?: number;
  readonly timeoutMs?: number;
}

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

/**
 * How many windows of `size` in `timeZone` the half-open [from, to) touches: the first one starts
 * at or before from, as the engine's window starts do.
 */
export function windowCount(from: Date, to: Date, size: WindowSize, timeZone: string): number {
  if (to.getTime() <= from.getTime()) return 0;
  const unit = LUXON_UNIT[size];
  const start = DateTime.fromJSDate(from, { zone: timeZone }).startOf(unit);
  const end = DateTime.fromJSDate(to, { zone: timeZone });
  return Math.ceil(end.diff(start, unit).as(unit));
}

export interface Statement {
  readonly sql: string;
  readonly params: Record<string, unknown>;
}

/** The SELECT behind queryMeterUsage; exported so its plan can be checked. */
export function meterUsageStatement(store: Store, query: MeterQuery, options: StatementOptions = {}): Statement {
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
    ${limitClause(options.rowLimit)}
    ${usageSettings(options.timeoutMs)}`;
  return { sql, params };
}

/** Refuses, before any engine work, a windowed query that spans more windows than allowed. */
function assertWindows(query: MeterQuery, maxWindows: number): void {
  if (!query.windowSize) return;
  const count = windowCount(query.from, query.to, query.windowSize, query.windowTimeZone);
  if (count > maxWindows) {
    throw new LimitExceededError(
      'maxWindows',
      maxWindows,
      `from/to span ${count} ${query.windowSize} windows; ask for a shorter from/to or a larger windowSize`,
      'windowSize',
    );
  }
}

/** Usage of one meter, in windows or as one total per group; only windows with events appear. */
export async function queryMeterUsage(store: Store, query: MeterQuery, limits?: UsageLimits): Promise<UsageRow[]> {
  const { from, to, meter } = query;
  if (limits) assertWindows(query, limits.maxWindows);
  const { sql, params } = meterUsageStatement(store, query, {
    ...(limits ? { rowLimit: limits.maxRows + 1 } : {}),
    ...(limits?.timeoutMs !== undefined ? { timeoutMs: limits.timeoutMs } : {}),
  });
  const rows = await selectRows<ValueColumns & Record<string, unknown>>(
    store,
    sql,
    params,
    limits?.timeoutMs !== undefined ? { timeoutMs: limits.timeoutMs } : {},
  );
  if (limits) {
    if (rows.length > limits.maxRows) {
      throw new LimitExceededError(
        'maxRows',
        limits.maxRows,
        `the answer has more than ${limits.maxRows} rows; ask for a shorter from/to, a larger windowSize or fewer groupBy dimensions`,
        'from',
      );
    }
    const groups = new Set(rows.map((row) => JSON.stringify([row.subject, ...query.groupBy.map((_dim, index) => row[`dim${index}`])])));
    if (groups.size > limits.maxGroups) {
      throw new LimitExceededError(
        'maxGroups',
        limits.maxGroups,
        `the answer splits into more than ${limits.maxGroups} groups; ask for fewer groupBy dimensions or filter by customerId or subject`,
        'groupBy',
      );
    }
  }
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
  options: { readonly groupLimit?: number; readonly timeoutMs?: number } = {},
): [Statement, Statement] {
  const params = { tenantId, meterKeys, subjects, from: toClickHouseTime(from), to: toClickHouseTime(to) };
  const where = `tenant_id = {tenantId:String} AND meter_key IN {meterKeys:Array(String)}
    AND subject IN {subjects:Array(String)}
    AND toStartOfMinute(time) >= {from:DateTime64(3, 'UTC')} AND toStartOfMinute(time) < {to:DateTime64(3, 'UTC')}`;
  return [
    {
      sql: `SELECT meter_key, ${VALUE_COLUMNS} FROM ${store.table('events')} WHERE ${where} GROUP BY meter_key ${usageSettings(options.timeoutMs)}`,
      params,
    },
    {
      sql: `SELECT meter_key, group_by, ${VALUE_COLUMNS} FROM ${store.table('events')} WHERE ${where}
        AND group_by != '{}' GROUP BY meter_key, group_by ORDER BY meter_key, group_by ${limitClause(options.groupLimit)}
        ${usageSettings(options.timeoutMs)}`,
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
  limits?: Pick<UsageLimits, 'maxGroups' | 'timeoutMs'>,
): Promise<MeterTotal[]> {
  if (meters.length === 0) return [];
  const timeout = limits?.timeoutMs !== undefined ? { timeoutMs: limits.timeoutMs } : {};
  const statements = meterTotalsStatements(store, tenantId, meters.map((meter) => meter.key), subjects, from, to, {
    ...(limits ? { groupLimit: limits.maxGroups + 1 } : {}),
    ...timeout,
  });
  // The per-group split is asked for only when some meter has dimensions to split by.
  const wanted = meters.some((meter) => Object.keys(meter.groupBy).length > 0) ? statements : statements.slice(0, 1);
  const [totals, groups] = await Promise.all(
    wanted.map(({ sql, params }) => selectRows<ValueColumns & { meter_key: string; group_by?: string }>(store, sql, params, timeout)),
  );
  if (limits && groups !== undefined && groups.length > limits.maxGroups) {
    throw new LimitExceededError(
      'maxGroups',
      limits.maxGroups,
      `the period's meters split into more than ${limits.maxGroups} groups in all; read them per meter with GET /v1/meters/{key}/query`,
      'period',
    );
  }
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
