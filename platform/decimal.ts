/**
 * The ingest boundary for meter values: is this JSON value an exact decimal that fits the
 * Decimal(38, 9) column, and what is its canonical text?
 *
 * It stays apart from platform/money.ts on purpose. The wire takes any JSON number spelling
 * (exponents, "+", ".5", numbers, bigints, lossless numbers) and this check answers an outcome per
 * value rather than throwing, because a reject is listed per event; everything past the door
 * speaks only the plain grammar of money.ts and computes there. The canonical text is built with
 * money.ts's constructor and quoted with its preview, so there is still one decimal type.
 */
import { isLosslessNumber } from 'lossless-json';
import { D, preview } from './money.js';

/** Digits after the decimal point in the ClickHouse column type Decimal(38, 9). */
export const DECIMAL_SCALE = 9;
/** Digits before the decimal point that Decimal(38, 9) can hold (38 - 9). */
export const DECIMAL_INTEGER_DIGITS = 29;

export type DecimalCheck = { ok: true; value: string } | { ok: false; reason: string };

// The accepted text grammar is ^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$ ; the groups split it into
// sign, integer digits, fraction digits (from either branch) and exponent.
const DECIMAL_TEXT = /^([+-]?)(?:(\d+)(?:\.(\d*))?|\.(\d+))(?:[eE]([+-]?\d+))?$/;

/**
 * Checks that `input` is an exact decimal that fits Decimal(38, 9) and returns it in canonical
 * plain form: no exponent, no leading zeros, no trailing fraction zeros, and "0" for any zero.
 *
 * Accepted inputs: a string in the decimal grammar above (surrounding whitespace is an error, not
 * trimmed), a finite number (read through String(n), which is exact for the numbers the exact JSON
 * parser lets through as plain numbers), a lossless-json LosslessNumber, or a bigint.
 *
 * Limits are applied to the value, not its spelling: "1.50000000000" has one decimal place that
 * matters and is accepted, while "1.0000000001" has ten and is rejected rather than rounded.
 */
export function toMeterDecimal(input: unknown): DecimalCheck {
  const text = decimalText(input);
  if (typeof text !== 'string') return text;
  return checkDecimalText(text);
}

function decimalText(input: unknown): string | { ok: false; reason: string } {
  switch (typeof input) {
    case 'string':
      if (input === '') return { ok: false, reason: 'expected a decimal number, got an empty string' };
      return input;
    case 'number':
      if (!Number.isFinite(input)) return { ok: false, reason: `expected a finite number, got ${String(input)}` };
      return String(input);
    case 'bigint':
      return input.toString();
    case 'object':
      if (input === null) return { ok: false, reason: 'expected a decimal number, got null' };
      if (isLosslessNumber(input)) return input.value;
      if (Array.isArray(input)) return { ok: false, reason: 'expected a decimal number, got array' };
      return { ok: false, reason: 'expected a decimal number, got object' };
    default:
      return { ok: false, reason: `expected a decimal number, got ${typeof input}` };
  }
}

function checkDecimalText(text: string): DecimalCheck {
  const match = DECIMAL_TEXT.exec(text);
  if (match === null) return { ok: false, reason: `${preview(text)} is not a decimal number` };
  const sign = match[1] ?? '';
  const integerPart = match[2] ?? '';
  const fractionPart = match[3] ?? match[4] ?? '';
  const exponentText = match[5] ?? '0';

  // The bounds are decided on the digits and a BigInt exponent before decimal.js sees the text:
  // decimal.js silently turns exponents beyond its range into 0 or Infinity, and toFixed() on a
  // huge in-range exponent builds a string with that many characters.
  const allDigits = integerPart + fractionPart;
  const firstNonZero = allDigits.search(/[1-9]/);
  if (firstNonZero === -1) return { ok: true, value: '0' };
  const lastNonZero = lastNonZeroIndex(allDigits);
  const coefficient = allDigits.slice(firstNonZero, lastNonZero + 1);
  // value = coefficient × 10^exponent, with no trailing zeros left in coefficient.
  const exponent = BigInt(exponentText) - BigInt(fractionPart.length) + BigInt(allDigits.length - 1 - lastNonZero);

  const decimalPlaces = exponent < 0n ? -exponent : 0n;
  if (decimalPlaces > BigInt(DECIMAL_SCALE)) {
    return { ok: false, reason: `has ${decimalPlaces} decimal places; at most ${DECIMAL_SCALE} are kept` };
  }
  const integerDigits = BigInt(coefficient.length) + exponent;
  if (integerDigits > BigInt(DECIMAL_INTEGER_DIGITS)) {
    return { ok: false, reason: `has ${integerDigits} integer digits; at most ${DECIMAL_INTEGER_DIGITS} fit` };
  }

  // Constructing a decimal never rounds, and a value within the bounds above has at most 38
  // digits, so toFixed() writes exactly the digits checked.
  const value = new D(`${sign === '-' ? '-' : ''}${coefficient}e${exponent}`);
  return { ok: true, value: value.toFixed() };
}

function lastNonZeroIndex(digits: string): number {
  let index = digits.length - 1;
  while (index >= 0 && digits[index] === '0') index -= 1;
  return index;
}
