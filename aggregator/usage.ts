import { DateTime } from 'luxon';
import { z } from 'zod';
import type { Aggregation } from '../catalog/index.js';
import { InvalidRequestError } from '../platform/errors.js';
import { LimitExceededError } from '../platform/limits.js';
import { selectTyped, type Store, type TypedStatement } from '../platform/store.js';
import { limitClause, periodParams, periodWhere, usageSettings, VALUE_COLUMNS, valueColumnsRow, valueOf } from './usage-queries.js';

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

function dimOf(row: MeterUsageRow, index: number): string | null {
  const value: unknown = (row as Record<string, unknown>)[`dim${index}`];
  return typeof value === 'string' ? value : null;
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

export type Statement<R extends z.ZodType = z.ZodType> = TypedStatement<R>;

/** A meter-usage row: the value columns, with the window, subject and dimensions the query splits by. */
export function meterUsageRow(query: Pick<MeterQuery, 'windowSize' | 'bySubject' | 'groupBy'>) {
  const dims: Record<string, z.ZodNullable<z.ZodString>> = {};
  query.groupBy.forEach((_dim, index) => {
    dims[`dim${index}`] = z.string().nullable();
  });
  return valueColumnsRow.extend({
    // toUnixTimestamp gives a UInt32, which JSON carries as a number.
    window_start: query.windowSize ? z.number().int() : z.undefined().optional(),
    subject: query.bySubject ? z.string() : z.undefined().optional(),
    ...dims,
  });
}
type MeterUsageRow = z.output<ReturnType<typeof meterUsageRow>>;

/** The SELECT behind queryMeterUsage; exported so its plan can be checked. */
export function meterUsageStatement(
  store: Store,
  query: MeterQuery,
  options: StatementOptions = {},
): Statement<ReturnType<typeof meterUsageRow>> {
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
    ...periodParams(from, to),
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
  if (query.subjects !== undefined) params.subjects = query.subjects;
  const sql = `SELECT ${[...select, VALUE_COLUMNS].join(', ')}
    FROM ${store.table('events')}
    WHERE ${periodWhere({ meters: 'one', subjects: query.subjects !== undefined ? 'listed' : 'all' })}
    ${groupKeys.length > 0 ? `GROUP BY ${groupKeys.join(', ')} ORDER BY ${groupKeys.join(', ')}` : ''}
    ${limitClause(options.rowLimit)}
    ${usageSettings(options.timeoutMs)}`;
  return { name: 'usage.meterUsage', sql, params, row: meterUsageRow(query) };
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
  const statement = meterUsageStatement(store, query, {
    ...(limits ? { rowLimit: limits.maxRows + 1 } : {}),
    ...(limits?.timeoutMs !== undefined ? { timeoutMs: limits.timeoutMs } : {}),
  });
  const rows: MeterUsageRow[] = await selectTyped(store, statement, limits?.timeoutMs !== undefined ? { timeoutMs: limits.timeoutMs } : {});
  if (limits) {
    if (rows.length > limits.maxRows) {
      throw new LimitExceededError(
        'maxRows',
        limits.maxRows,
        `the answer has more than ${limits.maxRows} rows; ask for a shorter from/to, a larger windowSize or fewer groupBy dimensions`,
        'from',
      );
    }
    const groups = new Set(rows.map((row) => JSON.stringify([row.subject, ...query.groupBy.map((_dim, index) => dimOf(row, index))])));
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
        const start = DateTime.fromSeconds(row.window_start ?? 0, { zone: query.windowTimeZone });
        windowStart = start.toJSDate();
        windowEnd = start.plus({ [LUXON_UNIT[query.windowSize]]: 1 }).toJSDate();
      }
      const groupBy: Record<string, string | null> = {};
      query.groupBy.forEach((dim, index) => {
        groupBy[dim] = dimOf(row, index);
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

const meterTotalRow = valueColumnsRow.extend({ meter_key: z.string() });
const meterGroupTotalRow = meterTotalRow.extend({ group_by: z.string() });

/** The two SELECTs behind queryMeterTotals (totals, then per-group splits); exported so their plans can be checked. */
export function meterTotalsStatements(
  store: Store,
  tenantId: string,
  meterKeys: readonly string[],
  subjects: readonly string[],
  from: Date,
  to: Date,
  options: { readonly groupLimit?: number; readonly timeoutMs?: number } = {},
): [Statement<typeof meterTotalRow>, Statement<typeof meterGroupTotalRow>] {
  const params = { tenantId, meterKeys, subjects, ...periodParams(from, to) };
  const where = periodWhere({ meters: 'many', subjects: 'listed' });
  return [
    {
      name: 'usage.meterTotals',
      sql: `SELECT meter_key, ${VALUE_COLUMNS} FROM ${store.table('events')} WHERE ${where} GROUP BY meter_key ${usageSettings(options.timeoutMs)}`,
      params,
      row: meterTotalRow,
    },
    {
      name: 'usage.meterGroupTotals',
      sql: `SELECT meter_key, group_by, ${VALUE_COLUMNS} FROM ${store.table('events')} WHERE ${where}
        AND group_by != '{}' GROUP BY meter_key, group_by ORDER BY meter_key, group_by ${limitClause(options.groupLimit)}
        ${usageSettings(options.timeoutMs)}`,
      params,
      row: meterGroupTotalRow,
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
  const hasGroups = meters.some((meter) => Object.keys(meter.groupBy).length > 0);
  const [totalStatement, groupStatement] = statements;
  const [totals, groups] = await Promise.all([
    selectTyped(store, totalStatement, timeout),
    hasGroups ? selectTyped(store, groupStatement, timeout) : undefined,
  ]);
  if (limits && groups !== undefined && groups.length > limits.maxGroups) {
    throw new LimitExceededError(
      'maxGroups',
      limits.maxGroups,
      `the period's meters split into more than ${limits.maxGroups} groups in all; read them per meter with GET /v1/meters/{key}/query`,
      'period',
    );
  }
  return meters.map((meter) => {
    const total = totals.find((row) => row.meter_key === meter.key);
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
                group: JSON.parse(row.group_by) as Record<string, string | null>,
                value: valueOf(meter.aggregation, row),
              })),
          }
        : {}),
    };
  });
}
