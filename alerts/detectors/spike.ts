import { COLUMN_SIZED, D, add, format, mul, parseDecimal, parseNonNegative, parsePositive, sub, type Decimal } from '../../platform/money.js';

/** Decimal places of the reported ratio, rounded down; decisions use exact products, not this figure. */
export const RATIO_SCALE = 6;
const HALF = new D('0.5');

export interface SpikeInput {
  /** Cost in the latest window, non-negative. */
  current: string;
  /** The same customer's trailing windows, e.g. the same hour on each of the previous 7 days; a window without usage is "0". */
  baseline: readonly string[];
  /** Fire at current ≥ ratio × baseline; at least 1. */
  ratio: string;
  /** …and only when current − baseline ≥ minIncrease, so tiny amounts that double do not page anyone. */
  minIncrease: string;
  /** Resolve once current < resolveRatio × baseline; 0 < resolveRatio ≤ ratio. */
  resolveRatio: string;
  /** The state after the previous evaluation. */
  firing: boolean;
}

export interface SpikeResult {
  state: 'firing' | 'ok';
  transition?: 'fired' | 'resolved';
  baselineValue: string;
  /** current / baseline, or null for a zero baseline. */
  observedRatio: string | null;
}

/**
 * Spike detection with hysteresis. The baseline is the median of the trailing windows: one past
 * spike among them would drag a mean up and mask the next one, while the median ignores it. Between
 * resolveRatio and ratio the state is kept, so a cost hovering at the threshold does not flap.
 * A zero baseline makes the ratio infinite for any positive cost (fire once the increase reaches
 * minIncrease) and 0 for a zero cost (the only way such an alert resolves).
 */
export function detectSpike(input: SpikeInput): SpikeResult {
  const current = parseNonNegative(input.current, 'current', COLUMN_SIZED);
  const baseline = median(input.baseline.map((text, i) => parseNonNegative(text, `baseline[${i}]`, COLUMN_SIZED)));
  const ratio = parseDecimal(input.ratio, 'ratio', COLUMN_SIZED);
  const resolveRatio = parsePositive(input.resolveRatio, 'resolveRatio', COLUMN_SIZED);
  const minIncrease = parseNonNegative(input.minIncrease, 'minIncrease', COLUMN_SIZED);
  if (ratio.lt(1)) throw new RangeError(`ratio must be at least 1, got ${format(ratio)}`);
  if (resolveRatio.gt(ratio)) throw new RangeError('resolveRatio must not exceed ratio, or the alert would resolve as it fires');

  // current / baseline ≥ k, decided on current ≥ k × baseline so no quotient is ever rounded.
  const reaches = (k: Decimal) => (baseline.isZero() ? current.gt(0) : current.gte(mul(k, baseline)));
  const observed = {
    baselineValue: format(baseline),
    observedRatio: baseline.isZero() ? null : format(current.div(baseline).toDecimalPlaces(RATIO_SCALE, D.ROUND_DOWN)),
  };
  if (input.firing) {
    return reaches(resolveRatio) ? { state: 'firing', ...observed } : { state: 'ok', transition: 'resolved', ...observed };
  }
  const fires = reaches(ratio) && sub(current, baseline).gte(minIncrease);
  return fires ? { state: 'firing', transition: 'fired', ...observed } : { state: 'ok', ...observed };
}

function median(values: Decimal[]): Decimal {
  const sorted = [...values].sort((a, b) => a.cmp(b));
  const lower = sorted[Math.floor((sorted.length - 1) / 2)];
  const upper = sorted[Math.floor(sorted.length / 2)];
  if (lower === undefined || upper === undefined) {
    throw new RangeError('baseline needs at least one window; pass "0" for a window without usage');
  }
  return sorted.length % 2 === 1 ? upper : mul(add(lower, upper), HALF);
}

export interface KeyedCost {
  key: string;
  cost: string;
}

export interface Driver {
  key: string;
  current: string;
  baseline: string;
  increase: string;
}

/**
 * The keys (e.g. meters or resources) whose cost rose most from baseline to current, largest
 * increase first, ties by key in code-unit order; keys that did not rise are left out. A key
 * missing on one side costs 0 there, and repeated keys are summed.
 */
export function topDrivers(current: readonly KeyedCost[], baseline: readonly KeyedCost[], limit = 5): Driver[] {
  if (!Number.isSafeInteger(limit) || limit < 0) throw new RangeError(`limit must be a non-negative integer, got ${limit}`);
  const now = totals(current, 'current');
  const before = totals(baseline, 'baseline');
  const drivers: Array<{ key: string; now: Decimal; before: Decimal; increase: Decimal }> = [];
  for (const [key, cost] of now) {
    const was = before.get(key) ?? new D(0);
    const increase = sub(cost, was);
    if (increase.gt(0)) drivers.push({ key, now: cost, before: was, increase });
  }
  drivers.sort((a, b) => b.increase.cmp(a.increase) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return drivers.slice(0, limit).map((d) => ({ key: d.key, current: format(d.now), baseline: format(d.before), increase: format(d.increase) }));
}

function totals(rows: readonly KeyedCost[], what: string): Map<string, Decimal> {
  const byKey = new Map<string, Decimal>();
  rows.forEach((row, i) => {
    byKey.set(row.key, add(byKey.get(row.key) ?? new D(0), parseDecimal(row.cost, `${what}[${i}].cost`, COLUMN_SIZED)));
  });
  return byKey;
}
