import { z } from 'zod';
import { defineQuery, insertRows, type Store } from '../platform/store.js';
import { fromClickHouseTime, toClickHouseTime } from '../platform/time.js';
import { roundToMinorUnit } from './pricing/rounding.js';
import { chargesView, type ChargesView, type RatedSnapshot } from './schemas.js';

/** A rated_charges row as written: totals as decimal strings, the statement as JSON. */
export const ratedChargeRow = z.object({
  tenant_id: z.string(),
  customer_id: z.string(),
  period_start: z.string(),
  period_end: z.string(),
  rated_at: z.string(),
  currency: z.string(),
  subtotal: z.string(),
  tax: z.string(),
  total: z.string(),
  statement: z.string(),
});

/**
 * The rated-charges store: the only code that writes or reads rated_charges. Every rated figure
 * is appended (never updated), so a customer's latest row is its current figure and the older
 * ones are its history. Each row keeps the whole statement as JSON beside its totals; reads
 * check that statement against the charges schema, so a row that drifted from it fails loudly
 * rather than being billed or alerted on as a guess.
 */

const TABLE = 'rated_charges';

// last_rated, not rated_at: ClickHouse would otherwise read the alias inside WHERE and the aggregates.
const figureRow = z.object({ tenant_id: z.string(), customer_id: z.string(), last_rated: z.string(), statement: z.string() });
type FigureRow = z.infer<typeof figureRow>;

const lastRatedQuery = defineQuery({
  name: 'ratedCharges.lastRated',
  sql: (t) => `SELECT toString(max(rated_at)) AS rated_at, count() AS n FROM ${t(TABLE)}`,
  params: z.object({}),
  row: z.object({ rated_at: z.string(), n: z.coerce.number() }),
});

const latestOfQuery = defineQuery({
  name: 'ratedCharges.latestOf',
  sql: (t) => `SELECT tenant_id, customer_id, toString(max(rated_at)) AS last_rated, argMax(statement, rated_at) AS statement
    FROM ${t(TABLE)} WHERE tenant_id = {tenantId:String} AND customer_id IN {customerIds:Array(String)}
    GROUP BY tenant_id, customer_id`,
  params: z.object({ tenantId: z.string(), customerIds: z.array(z.string()) }),
  row: figureRow,
});

const latestSinceQuery = defineQuery({
  name: 'ratedCharges.latestSince',
  sql: (t) => `SELECT tenant_id, customer_id, toString(max(rated_at)) AS last_rated, argMax(statement, rated_at) AS statement
    FROM ${t(TABLE)} WHERE rated_at > {since:DateTime64(3, 'UTC')}
    GROUP BY tenant_id, customer_id`,
  params: z.object({ since: z.string() }),
  row: figureRow,
});

const historyRow = z.object({
  rated_at: z.string(),
  period_start: z.string(),
  period_end: z.string(),
  currency: z.string(),
  subtotal: z.string(),
  tax: z.string(),
  total: z.string(),
});
type HistoryRow = z.infer<typeof historyRow>;

const historyQuery = defineQuery({
  name: 'ratedCharges.history',
  sql: (t) => `SELECT toString(rated_at) AS rated_at, toString(period_start) AS period_start, toString(period_end) AS period_end,
      currency, toString(subtotal) AS subtotal, toString(tax) AS tax, toString(total) AS total
    FROM ${t(TABLE)}
    WHERE tenant_id = {tenantId:String} AND customer_id = {customerId:String}
    ORDER BY period_start DESC, rated_at DESC
    LIMIT {limit:UInt32}`,
  params: z.object({ tenantId: z.string(), customerId: z.string(), limit: z.number().int() }),
  row: historyRow,
});

/** A customer's latest stored figure. */
export interface RatedFigure {
  readonly tenantId: string;
  readonly customerId: string;
  /** When the figure was rated (RFC 3339, milliseconds). */
  readonly ratedAt: string;
  /**
   * The stored statement, checked against the charges schema; throws RatedChargesReadError when
   * it does not match. Parsed on request: a reader that skips a customer pays nothing for it, and
   * one malformed row fails only the reader of that customer, not a whole batch of figures.
   */
  readonly statement: () => ChargesView;
}

/** A stored statement that does not match the charges schema: a drift bug, never read as a guess. */
export class RatedChargesReadError extends Error {
  constructor(
    readonly tenantId: string,
    readonly customerId: string,
    readonly ratedAt: string,
    problem: string,
  ) {
    super(`rated_charges row of tenant ${tenantId}, customer ${customerId}, rated at ${ratedAt}: ${problem}`);
    this.name = 'RatedChargesReadError';
  }
}

/** The stored statement of a row as charges; throws RatedChargesReadError naming what does not match. */
export function parseStatement(row: FigureRow): ChargesView {
  const ratedAt = fromClickHouseTime(row.last_rated).toISOString();
  let json: unknown;
  try {
    json = JSON.parse(row.statement);
  } catch (error) {
    throw new RatedChargesReadError(row.tenant_id, row.customer_id, ratedAt, `statement is not JSON (${(error as Error).message})`);
  }
  const parsed = chargesView.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(statement)'}: ${issue.message}`);
    throw new RatedChargesReadError(row.tenant_id, row.customer_id, ratedAt, `statement does not match the charges schema: ${problems.join('; ')}`);
  }
  return parsed.data;
}

/** A latest-figure row as a figure whose statement is parsed (and checked) when asked for. */
export function figureOf(row: FigureRow): RatedFigure {
  let statement: ChargesView | undefined;
  return {
    tenantId: row.tenant_id,
    customerId: row.customer_id,
    ratedAt: fromClickHouseTime(row.last_rated).toISOString(),
    statement: () => (statement ??= parseStatement(row)),
  };
}

/** The row a rated figure is stored as: its totals in columns, the whole statement as JSON. */
export function rowOf(tenantId: string, ratedAt: number, charges: ChargesView) {
  return {
    tenant_id: tenantId,
    customer_id: charges.customerId,
    period_start: toClickHouseTime(new Date(charges.periodStart)),
    period_end: toClickHouseTime(new Date(charges.periodEnd)),
    rated_at: toClickHouseTime(new Date(ratedAt)),
    currency: charges.currency,
    subtotal: charges.subtotal,
    tax: charges.tax,
    total: charges.total,
    statement: JSON.stringify(charges),
  };
}

/** A history row as the API shows it: instants in RFC 3339, totals in the currency's minor unit. */
export function snapshotOf(row: HistoryRow): RatedSnapshot {
  return {
    ratedAt: fromClickHouseTime(row.rated_at).toISOString(),
    periodStart: fromClickHouseTime(row.period_start).toISOString(),
    periodEnd: fromClickHouseTime(row.period_end).toISOString(),
    currency: row.currency,
    subtotal: roundToMinorUnit(row.subtotal, row.currency),
    tax: roundToMinorUnit(row.tax, row.currency),
    total: roundToMinorUnit(row.total, row.currency),
  };
}

export interface RatedChargesDeps {
  readonly store: Store;
}

export type RatedCharges = ReturnType<typeof buildRatedCharges>;

export function buildRatedCharges({ store }: RatedChargesDeps) {
  return {
    /** Stores the figures of one tenant's customers, all rated at `ratedAt` (epoch ms). */
    async append(tenantId: string, ratedAt: number, figures: readonly ChargesView[]): Promise<void> {
      await insertRows(store, TABLE, ratedChargeRow, figures.map((charges) => rowOf(tenantId, ratedAt, charges)));
    },

    /** When the newest figure of any tenant was rated (epoch ms); undefined while nothing was ever rated. */
    async lastRatedAt(): Promise<number | undefined> {
      const [row] = await lastRatedQuery(store, {});
      return row && row.n > 0 ? fromClickHouseTime(row.rated_at).getTime() : undefined;
    },

    /** The latest figure of each of these customers that has one. */
    async latest(tenantId: string, customerIds: readonly string[]): Promise<RatedFigure[]> {
      return (await latestOfQuery(store, { tenantId, customerIds: [...customerIds] })).map(figureOf);
    },

    /** The latest figure of every customer (all tenants) rated after `since` (epoch ms). */
    async latestSince(since: number): Promise<RatedFigure[]> {
      return (await latestSinceQuery(store, { since: toClickHouseTime(new Date(since)) })).map(figureOf);
    },

    /** A customer's stored figures, newest period first and newest figure first within it. */
    async history(tenantId: string, customerId: string, limit = 100): Promise<RatedSnapshot[]> {
      return (await historyQuery(store, { tenantId, customerId, limit })).map(snapshotOf);
    },
  };
}
