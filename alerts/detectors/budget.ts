import { COLUMN_SIZED, D, add, format, mul, parseDecimal, parseNonNegative, parsePositive, percentOf } from '../../platform/money.js';
import { parseInstant } from '../instant.js';
import { crossedThresholds } from './thresholds.js';

/** Decimal places a forecast is rounded to: the scale amounts are stored at. */
export const FORECAST_SCALE = 9;

/**
 * The amount at each percentage of `budget`, e.g. budget "1000" with [50, 80, 100] gives
 * ["500", "800", "1000"]. Percentages are non-negative, strictly ascending, and may exceed 100
 * (an overrun alert); numbers are read through String(n), so write 1e-7 as the string "0.0000001".
 */
export function budgetThresholds(budget: string, percentages: ReadonlyArray<string | number>): string[] {
  return budgetLevels(budget, percentages).map((level) => level.amount);
}

export interface BudgetCrossing {
  percentage: string;
  amount: string;
}

/** The budget percentages crossed between two evaluations, by the rules of crossedThresholds. */
export function crossedBudgetThresholds(input: {
  previous?: string | undefined;
  current: string;
  budget: string;
  percentages: ReadonlyArray<string | number>;
}): BudgetCrossing[] {
  const levels = budgetLevels(input.budget, input.percentages);
  const byAmount = new Map(levels.map((level) => [level.amount, level]));
  const thresholds = levels.map((level) => level.amount);
  return crossedThresholds({ previous: input.previous, current: input.current, thresholds }).flatMap((amount) => byAmount.get(amount) ?? []);
}

function budgetLevels(budget: string, percentages: ReadonlyArray<string | number>): BudgetCrossing[] {
  const total = parsePositive(budget, 'budget', COLUMN_SIZED);
  const parsed = percentages.map((p, i) => parseNonNegative(String(p), `percentages[${i}]`, COLUMN_SIZED));
  return parsed.map((p, i) => {
    const before = parsed[i - 1];
    if (before !== undefined && !before.lt(p)) throw new RangeError(`percentages must be strictly ascending: ${format(p)} follows ${format(before)}`);
    // Dividing by 100 only moves the decimal point, so the amount stays exact.
    return { percentage: format(p), amount: format(percentOf(total, p)) };
  });
}

export interface ForecastInput {
  /** Spend from periodStart up to asOf. */
  spent: string;
  periodStart: Date | string;
  periodEnd: Date | string;
  asOf: Date | string;
  /** Spend from lookbackStart up to asOf; give both lookback fields or neither. */
  lookbackSpent?: string | undefined;
  lookbackStart?: Date | string | undefined;
}

/**
 * Run-rate projection of spend at periodEnd: spent + rate × (periodEnd − asOf). The rate is
 * lookbackSpent over the lookback window when one is given (a recent window follows a change in
 * usage sooner; it may start before the period), else spent over the time since periodStart.
 * The extrapolated part is rounded half-up to FORECAST_SCALE places; spent is kept exact. With no
 * time elapsed to measure a rate, or none left in the period, the projection is spent itself.
 */
export function forecastPeriodEnd(input: ForecastInput): string {
  const spent = parseDecimal(input.spent, 'spent', COLUMN_SIZED);
  const start = parseInstant(input.periodStart, 'periodStart').getTime();
  const end = parseInstant(input.periodEnd, 'periodEnd').getTime();
  const asOf = parseInstant(input.asOf, 'asOf').getTime();
  if (!(start < end)) throw new RangeError('periodStart must be before periodEnd');
  if (asOf < start) throw new RangeError('asOf must not be before periodStart');
  if ((input.lookbackSpent === undefined) !== (input.lookbackStart === undefined)) {
    throw new RangeError('lookbackSpent and lookbackStart must be given together');
  }

  let rateSpent = spent;
  let rateStart = start;
  if (input.lookbackSpent !== undefined && input.lookbackStart !== undefined) {
    rateSpent = parseDecimal(input.lookbackSpent, 'lookbackSpent', COLUMN_SIZED);
    rateStart = parseInstant(input.lookbackStart, 'lookbackStart').getTime();
    if (!(rateStart < asOf)) throw new RangeError('lookbackStart must be before asOf');
  }
  const remaining = end - asOf;
  const elapsed = asOf - rateStart;
  if (remaining <= 0 || elapsed <= 0) return format(spent);
  const extrapolated = mul(rateSpent, new D(remaining)).div(elapsed).toDecimalPlaces(FORECAST_SCALE, D.ROUND_HALF_UP);
  return format(add(spent, extrapolated));
}

/**
 * Whether a projection is above budget (strictly: landing exactly on the budget is not an
 * overrun), and whether to alert. `wasAbove` is the `above` of the previous evaluation in the
 * same period, false at the start of a period; the alert fires only on a transition from not
 * above to above, so at most once per period unless the projection falls back under and rises again.
 */
export function forecastState(input: { projected: string; budget: string; wasAbove: boolean }): { above: boolean; fire: boolean } {
  const projected = parseDecimal(input.projected, 'projected', COLUMN_SIZED);
  const budget = parseNonNegative(input.budget, 'budget', COLUMN_SIZED);
  const above = projected.gt(budget);
  return { above, fire: above && !input.wasAbove };
}
