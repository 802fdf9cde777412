import { Decimal } from 'decimal.js';

/**
 * Significant digits every pricing result is computed to. Amounts are not rounded silently:
 * `add`, `sub` and `mul` below throw rather than return a value that lost digits. `prorate` is
 * the one deliberate exception.
 */
export const PRECISION = 60;

// A private constructor so nothing here depends on, or changes, the global Decimal settings.
// The exponent limits keep toString() in plain notation too, not only toFixed().
export const D = Decimal.clone({ precision: PRECISION, rounding: Decimal.ROUND_HALF_UP, toExpNeg: -100, toExpPos: 100 });

// Used only to check that a D result is exact. Sums and products never need more digits than
// their operands together, so this constructor never rounds them; it must never divide.
const Unrounded = D.clone({ precision: 1e9 });

/** The decimal grammar accepted everywhere at this module's boundary: no exponent, no "+", no bare ".5". */
export const DECIMAL_TEXT = /^-?\d+(\.\d+)?$/;

export const ZERO = new D(0);
export const ONE = new D(1);
export const HUNDRED = new D(100);

/**
 * The canonical text of a decimal: plain notation, no trailing fraction zeros, and "0" for every
 * zero (decimal.js keeps a sign on zero, which would otherwise print as "-0").
 */
export function format(value: Decimal): string {
  return value.isZero() ? '0' : value.toFixed();
}

/** Parses a decimal string in the grammar above; `what` names the value in the error message. */
export function parseDecimal(text: unknown, what: string): Decimal {
  if (typeof text !== 'string') {
    throw new RangeError(`${what} must be a decimal string, got ${typeof text}`);
  }
  if (!DECIMAL_TEXT.test(text)) {
    throw new RangeError(`${what} must be a decimal string such as "12.5", got ${preview(text)}`);
  }
  return new D(text);
}

export function parseNonNegative(text: unknown, what: string): Decimal {
  const value = parseDecimal(text, what);
  if (value.lt(0)) throw new RangeError(`${what} must not be negative, got ${preview(String(text))}`);
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

/** ⌈dividend / divisor⌉ for dividend ≥ 0 and divisor > 0, computed without a rounded quotient. */
export function ceilDiv(dividend: Decimal, divisor: Decimal): Decimal {
  const whole = dividend.divToInt(divisor);
  const remainder = sub(dividend, mul(whole, divisor));
  // divToInt rounds its result to PRECISION digits; a remainder outside [0, divisor) shows it did.
  if (remainder.lt(0) || remainder.gte(divisor)) throw inexact('a package count');
  return remainder.gt(0) ? add(whole, ONE) : whole;
}

function inexact(what: string): RangeError {
  return new RangeError(
    `${what} needs more than ${PRECISION} significant digits to be exact; the amounts involved are too large or too finely divided to price`,
  );
}

const PREVIEW_LENGTH = 40;

export function preview(text: string): string {
  const shown = text.length > PREVIEW_LENGTH ? `${text.slice(0, PREVIEW_LENGTH)}…` : text;
  return JSON.stringify(shown);
}
