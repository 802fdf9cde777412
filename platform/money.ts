import { Decimal } from 'decimal.js';

/**
 * Exact quantities and money: the one home of decimal arithmetic, parsing and formatting. Every
 * module computes through these functions, so a quantity means the same digits, the same grammar
 * and the same rounding wherever it travels (ingest, aggregator, rater, alerts, tests).
 *
 * The rules, in the order they matter:
 * 1. Values are decimal.js instances of one private constructor, `D`: 60 significant digits,
 *    half-up, plain notation. The global Decimal (20 digits) is never used or changed.
 * 2. Text inside the service is plain decimal text (`DECIMAL_TEXT`): no exponent, no "+", no bare
 *    ".5". `parseDecimal` and its variants accept only that and name the value in their errors;
 *    `COLUMN_SIZED` adds a length cap for amounts that fit a Decimal(38, 9) column.
 * 3. `add`, `sub`, `mul`, `sum`, `percentOf`, `ceilDiv` and `floorDiv` are exact or throw a
 *    RangeError: nothing is rounded silently. `prorate` is the one deliberate rounding (see there).
 * 4. `wideSum` adds stored figures that may be wider than 60 digits (Decimal256 sums), exactly.
 * 5. `averageOf` is the one division of stored usage: half-even, at the stored scale.
 * 6. `format` writes the canonical text: plain, no trailing fraction zeros, "0" for every zero.
 *
 * `platform/decimal.ts` stays a file of its own: it is the ingest boundary, which takes any JSON
 * number spelling (exponents, "+", ".5", numbers, bigints) and checks it against the Decimal(38, 9)
 * column without arithmetic, answering an outcome rather than throwing. It builds its canonical
 * text with this module's constructor, so what it lets in is exactly what `parseDecimal` reads.
 */

export type { Decimal };

/** Significant digits every result is computed to. */
export const PRECISION = 60;

// A private constructor so nothing here depends on, or changes, the global Decimal settings.
// The exponent limits keep toString() in plain notation too, not only toFixed().
export const D = Decimal.clone({ precision: PRECISION, rounding: Decimal.ROUND_HALF_UP, toExpNeg: -100, toExpPos: 100 });

// Used only to check that a D result is exact, and for wideSum. Sums and products never need more
// digits than their operands together, so this constructor never rounds them; it must never divide.
const Unrounded = D.clone({ precision: 1e9 });

/** The decimal grammar accepted everywhere inside the service: no exponent, no "+", no bare ".5". */
export const DECIMAL_TEXT = /^-?\d+(\.\d+)?$/;

export const ZERO = new D(0);
export const ONE = new D(1);
export const HUNDRED = new D(100);

/** A bound a caller puts on a decimal's text, beyond the grammar. */
export interface TextBounds {
  readonly maxLength: number;
}

/**
 * For amounts that fit a Decimal(38, 9) column (alert thresholds, budgets, rated figures): a
 * longer string is a caller bug, and refusing it early keeps error messages short and every
 * operation cheap.
 */
export const COLUMN_SIZED: TextBounds = { maxLength: 100 };

/**
 * The canonical text of a decimal: plain notation, no trailing fraction zeros, and "0" for every
 * zero (decimal.js keeps a sign on zero, which would otherwise print as "-0").
 */
export function format(value: Decimal): string {
  return value.isZero() ? '0' : value.toFixed();
}

/** Parses a decimal string in the grammar above; `what` names the value in the error message. */
export function parseDecimal(text: unknown, what: string, bounds?: TextBounds): Decimal {
  if (typeof text !== 'string') {
    throw new RangeError(`${what} must be a decimal string, got ${typeof text}`);
  }
  if ((bounds !== undefined && text.length > bounds.maxLength) || !DECIMAL_TEXT.test(text)) {
    throw new RangeError(`${what} must be a decimal string such as "12.5", got ${preview(text)}`);
  }
  return new D(text);
}

/** A decimal ≥ 0; "-0" is zero, not negative. */
export function parseNonNegative(text: unknown, what: string, bounds?: TextBounds): Decimal {
  const value = parseDecimal(text, what, bounds);
  if (value.lt(0)) throw new RangeError(`${what} must not be negative, got ${preview(String(text))}`);
  return value;
}

export function parsePositive(text: unknown, what: string, bounds?: TextBounds): Decimal {
  const value = parseDecimal(text, what, bounds);
  if (!value.gt(0)) throw new RangeError(`${what} must be greater than 0, got ${preview(String(text))}`);
  return value;
}

/** A share of a period: a decimal in [0, 1]. */
export function parseFraction(text: unknown, what: string): Decimal {
  const value = parseNonNegative(text, what);
  if (value.gt(1)) throw new RangeError(`${what} must be between 0 and 1, got ${preview(String(text))}`);
  return value;
}

export function add(a: Decimal, b: Decimal): Decimal {
  const result = a.plus(b);
  // The exact sum spans at most from one place above the larger leading digit down to the
  // smaller last digit; when that fits, decimal.js cannot have rounded.
  const span = Math.max(a.e, b.e) + Math.max(a.dp(), b.dp()) + 2;
  if (span > PRECISION && !new Unrounded(a).plus(b).eq(result)) throw inexact('a sum');
  return result;
}

export function sub(a: Decimal, b: Decimal): Decimal {
  return add(a, b.neg());
}

export function mul(a: Decimal, b: Decimal): Decimal {
  const result = a.times(b);
  if (a.sd() + b.sd() > PRECISION && !new Unrounded(a).times(b).eq(result)) throw inexact('a product');
  return result;
}

/**
 * value × fraction, rounded half-up to PRECISION significant digits. A proration fraction such as
 * 10/30 is itself a ratio the caller has already rounded, usually to many digits, so insisting on
 * an exact product would reject ordinary amounts (900 × a 60-digit 1/3 needs 61 digits) while
 * adding no accuracy.
 */
export function prorate(value: Decimal, fraction: Decimal): Decimal {
  return value.times(fraction);
}

/** value × percent / 100; exact because dividing by 100 only moves the decimal point. */
export function percentOf(value: Decimal, percent: Decimal): Decimal {
  return mul(value, percent).div(HUNDRED);
}

export function sum(values: Iterable<Decimal>): Decimal {
  let total = ZERO;
  for (const value of values) total = add(total, value);
  return total;
}

/** The exact sum of decimal strings, as canonical text; `what` names them in an error. */
export function sumOfTexts(values: Iterable<string>, what: string): string {
  const parsed: Decimal[] = [];
  let index = 0;
  for (const value of values) parsed.push(parseDecimal(value, `${what}[${index++}]`));
  return format(sum(parsed));
}

/**
 * The exact sum of stored figures, however wide. The store answers sums in Decimal(76, 9), wider
 * than PRECISION, and combining them (a customer's subjects, a test's expected total) must neither
 * round nor refuse: addition needs no more digits than its operands, so nothing is lost.
 */
export function wideSum(values: Iterable<Decimal.Value>): Decimal {
  let total = new Unrounded(0);
  for (const value of values) total = total.plus(value);
  // Back to D, so whatever the caller does next is carried to PRECISION like everything else.
  return new D(total);
}

/** ⌈dividend / divisor⌉ for dividend ≥ 0 and divisor > 0, computed without a rounded quotient. */
export function ceilDiv(dividend: Decimal, divisor: Decimal): Decimal {
  const whole = dividend.divToInt(divisor);
  const remainder = sub(dividend, mul(whole, divisor));
  // divToInt rounds its result to PRECISION digits; a remainder outside [0, divisor) shows it did.
  if (remainder.lt(0) || remainder.gte(divisor)) throw inexact('a package count');
  return remainder.gt(0) ? add(whole, ONE) : whole;
}

/** ⌊dividend / divisor⌋ for dividend ≥ 0 and divisor > 0, checked rather than trusted. */
export function floorDiv(dividend: Decimal, divisor: Decimal): Decimal {
  const whole = dividend.divToInt(divisor);
  const remainder = sub(dividend, mul(whole, divisor));
  // divToInt rounds its result to PRECISION digits; a remainder outside [0, divisor) shows it did.
  if (remainder.lt(0) || remainder.gte(divisor)) throw inexact('a quotient');
  return whole;
}

// Averages are the only aggregation that divides; they keep the stored scale, rounded half-even.
const Averaging = Decimal.clone({ precision: PRECISION, rounding: Decimal.ROUND_HALF_EVEN });

/** An AVG meter's value: sum / count at the stored scale (9 places), rounded half-even. */
export function averageOf(total: string, count: string): string {
  return new Averaging(total).div(count).toDecimalPlaces(9).toFixed();
}

// Numeric group-by values are labels, not amounts: any size a JSON parser hands over is kept
// digit for digit, so the limits sit far beyond an amount's.
const Canonical = Decimal.clone({ precision: 1_000, toExpNeg: -9e15, toExpPos: 9e15 });

/**
 * One text per numeric value ("1.50", 1.5 and 1.5e0 alike), in plain notation. Throws for text
 * that is not a number.
 */
export function canonicalNumberText(text: string): string {
  return new Canonical(text).toFixed();
}

function inexact(what: string): RangeError {
  return new RangeError(
    `${what} needs more than ${PRECISION} significant digits to be exact; the amounts involved are too large or too finely divided to price`,
  );
}

const PREVIEW_LENGTH = 40;

/** A value quoted for an error message, cut to a readable length. */
export function preview(text: string): string {
  const shown = text.length > PREVIEW_LENGTH ? `${text.slice(0, PREVIEW_LENGTH)}…` : text;
  return JSON.stringify(shown);
}
