import { COLUMN_SIZED, ONE, ZERO, add, floorDiv, format, mul, parseDecimal, parseNonNegative, parsePositive, sub, type Decimal } from '../../platform/money.js';

/**
 * More crossings than this in one evaluation means a step far too small for the amounts (a
 * misconfiguration to surface), not a burst of alerts anyone wants; it also bounds the work done.
 */
export const MAX_CROSSED_THRESHOLDS = 10_000;

export interface ThresholdCrossingInput {
  /**
   * Spend at the previous evaluation in the same period. Undefined, the first evaluation of a
   * period, means 0: spend already above some thresholds when first seen reports all of them.
   */
  previous?: string | undefined;
  current: string;
  /** Fixed thresholds: non-negative decimal strings in strictly ascending order. */
  thresholds: readonly string[];
  /**
   * Continues the series without bound after the last fixed threshold T: T+step, T+2·step, …
   * With no fixed thresholds the series starts from 0 (step, 2·step, …; 0 itself is not one).
   */
  recurringStep?: string | undefined;
}

/**
 * Every threshold t with previous < t ≤ current, once each, ascending, in canonical decimal form.
 * Spend that went down or stayed put crosses nothing. Throws a RangeError for invalid input and
 * when more than MAX_CROSSED_THRESHOLDS would be reported.
 */
export function crossedThresholds(input: ThresholdCrossingInput): string[] {
  const fixed = parseAscending(input.thresholds);
  const step = input.recurringStep === undefined ? undefined : parsePositive(input.recurringStep, 'recurringStep', COLUMN_SIZED);
  const previous = input.previous === undefined ? ZERO : parseDecimal(input.previous, 'previous', COLUMN_SIZED);
  const current = parseDecimal(input.current, 'current', COLUMN_SIZED);
  if (current.lte(previous)) return [];

  const crossed = fixed.filter((t) => previous.lt(t) && t.lte(current));
  if (step !== undefined) {
    const base = fixed.at(-1) ?? ZERO;
    // Recurring threshold k (k ≥ 1) is base + k·step; it is crossed when first ≤ k ≤ last.
    const first = previous.lt(base) ? ONE : floorDiv(sub(previous, base), step).plus(1);
    const last = current.lt(base) ? ZERO : floorDiv(sub(current, base), step);
    const count = last.minus(first).plus(1);
    if (count.gt(MAX_CROSSED_THRESHOLDS - crossed.length)) throw tooMany(count.plus(crossed.length));
    for (let k = first; k.lte(last); k = add(k, ONE)) crossed.push(add(base, mul(step, k)));
  }
  if (crossed.length > MAX_CROSSED_THRESHOLDS) throw tooMany(crossed.length);
  return crossed.map(format);
}

function parseAscending(texts: readonly string[]): Decimal[] {
  const values = texts.map((text, index) => parseNonNegative(text, `thresholds[${index}]`, COLUMN_SIZED));
  values.forEach((value, index) => {
    const before = values[index - 1];
    if (before !== undefined && !before.lt(value)) {
      throw new RangeError(`thresholds must be strictly ascending: thresholds[${index}] = ${format(value)} follows ${format(before)}`);
    }
  });
  return values;
}

function tooMany(count: Decimal | number): RangeError {
  return new RangeError(
    `${count.toString()} thresholds would be reported at once, more than ${MAX_CROSSED_THRESHOLDS}: the recurring step is too small for these amounts`,
  );
}
