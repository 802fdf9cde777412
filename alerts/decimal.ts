import { Decimal } from 'decimal.js';

/** Significant digits every alert computation is carried to. */
export const PRECISION = 60;

// A private constructor so nothing here depends on, or changes, the global Decimal settings. The
// exponent limits keep toString() in plain notation as well as toFixed().
export const AlertDecimal = Decimal.clone({ precision: PRECISION, toExpNeg: -100, toExpPos: 100 });

// Used only to confirm that a result computed to PRECISION digits was not rounded: a sum or a
// product needs no more digits than its operands together, so this constructor never rounds them.
const Unrounded = AlertDecimal.clone({ precision: 1e9 });

/** Plain decimal text: no exponent, no "+", no bare ".5", the same grammar the rater accepts. */
const DECIMAL_TEXT = /^-?\d+(\.\d+)?$/;
// Alerting compares amounts that fit a Decimal(38, 9) column; a longer string is a caller bug, and
// refusing it early keeps error messages short and every operation cheap.
const MAX_TEXT_LENGTH = 100;

export const ZERO = new AlertDecimal(0);
export const ONE = new AlertDecimal(1);

export function parseDecimal(text: unknown, what: string): Decimal {
  if (typeof text !== 'string') throw new RangeError(`${what} must be a decimal string, got ${typeof text}`);
  if (text.length > MAX_TEXT_LENGTH || !DECIMAL_TEXT.test(text)) {
    throw new RangeError(`${what} must be a decimal string such as "12.5", got ${preview(text)}`);
  }
  return new AlertDecimal(text);
}

export function parseNonNegative(text: unknown, what: string): Decimal {
  const value = parseDecimal(text, what);
  if (value.isNegative() && !value.isZero()) throw new RangeError(`${what} must not be negative, got ${preview(String(text))}`);
  return value;
}

export function parsePositive(text: unknown, what: string): Decimal {
  const value = parseDecimal(text, what);
  if (!value.gt(0)) throw new RangeError(`${what} must be greater than 0, got ${preview(String(text))}`);
  return value;
}

/** Canonical text: plain notation, no trailing fraction zeros, and "0" rather than decimal.js's "-0". */
export function format(value: Decimal): string {
  return value.isZero() ? '0' : value.toFixed();
}

// The operations below throw rather than return a silently rounded amount: an alert that
// compares a rounded sum against a threshold could fire one evaluation early or late.

export function plus(a: Decimal, b: Decimal): Decimal {
  const result = a.plus(b);
  if (!new Unrounded(a).plus(b).eq(result)) throw inexact('a sum');
  return result;
}

export function minus(a: Decimal, b: Decimal): Decimal {
  return plus(a, b.neg());
}

export function times(a: Decimal, b: Decimal): Decimal {
  const result = a.times(b);
  if (a.sd() + b.sd() > PRECISION && !new Unrounded(a).times(b).eq(result)) throw inexact('a product');
  return result;
}

/** ⌊dividend / divisor⌋ for dividend ≥ 0 and divisor > 0, checked rather than trusted. */
export function floorDiv(dividend: Decimal, divisor: Decimal): Decimal {
  const whole = dividend.divToInt(divisor);
  const remainder = minus(dividend, times(whole, divisor));
  // divToInt rounds its result to PRECISION digits; a remainder outside [0, divisor) shows it did.
  if (remainder.isNegative() || remainder.gte(divisor)) throw inexact('a quotient');
  return whole;
}

function inexact(what: string): RangeError {
  return new RangeError(`${what} needs more than ${PRECISION} significant digits to be exact; the amounts are too large or too fine`);
}

export function preview(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}
