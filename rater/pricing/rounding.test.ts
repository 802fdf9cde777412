import { describe, expect, it } from 'vitest';
import { minorUnitDigits, roundToMinorUnit } from './rounding.js';

describe('minorUnitDigits', () => {
  it.each([
    ['JPY', 0],
    ['KRW', 0],
    ['USD', 2],
    ['EUR', 2],
    ['BHD', 3],
    ['KWD', 3],
    ['JOD', 3],
    ['OMR', 3],
    ['TND', 3],
    ['CLF', 4],
    ['UYW', 4],
  ])('%s has %i digits, as Node reports too', (currency, digits) => {
    expect(minorUnitDigits(currency)).toBe(digits);
    const reported = new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits;
    expect(reported).toBe(digits);
  });

  it.each([
    // Intl (CLDR) reports the digits in everyday use for these; ISO 4217 is what invoices follow.
    ['HUF', 2],
    ['IDR', 2],
    ['COP', 2],
    ['IQD', 3],
    ['ISK', 0],
    ['XAF', 0],
    ['LYD', 3],
  ])('%s follows ISO 4217 with %i digits', (currency, digits) => {
    expect(minorUnitDigits(currency)).toBe(digits);
  });

  it('gives 2 digits to codes without an ISO minor unit or unknown to the table', () => {
    expect(minorUnitDigits('XXX')).toBe(2);
    expect(minorUnitDigits('XAU')).toBe(2);
    expect(minorUnitDigits('QQQ')).toBe(2);
  });

  it('accepts lower-case codes', () => {
    expect(minorUnitDigits('jpy')).toBe(0);
  });

  it.each([['US'], ['USDX'], ['U$D'], ['']])('rejects the malformed code %j', (currency) => {
    expect(() => minorUnitDigits(currency)).toThrow(RangeError);
  });
});

describe('roundToMinorUnit', () => {
  it.each([
    ['1234.5', 'JPY', '1235'],
    ['1234.4999', 'JPY', '1234'],
    ['1.2345', 'BHD', '1.235'],
    ['1.2344', 'BHD', '1.234'],
    // Binary floating point holds 2.675 as 2.67499999...; decimal arithmetic does not.
    ['2.675', 'USD', '2.68'],
    ['0.005', 'USD', '0.01'],
    ['0.004999999999', 'USD', '0.00'],
    ['51', 'USD', '51.00'],
    ['10.005', 'EUR', '10.01'],
    ['1.23455', 'CLF', '1.2346'],
    ['1', 'CLF', '1.0000'],
    ['999999999999999999999.995', 'USD', '1000000000000000000000.00'],
    ['0', 'KWD', '0.000'],
  ])('%s %s rounds to %s', (amount, currency, rounded) => {
    expect(roundToMinorUnit(amount, currency)).toBe(rounded);
  });

  it('rounds ties away from zero for negative amounts, and never prints a signed zero', () => {
    expect(roundToMinorUnit('-0.005', 'USD')).toBe('-0.01');
    expect(roundToMinorUnit('-2.675', 'USD')).toBe('-2.68');
    expect(roundToMinorUnit('-0.001', 'USD')).toBe('0.00');
    expect(roundToMinorUnit('-0.4', 'JPY')).toBe('0');
  });

  it('rejects amounts that are not decimal strings', () => {
    expect(() => roundToMinorUnit('1e2', 'USD')).toThrow(RangeError);
    expect(() => roundToMinorUnit('abc', 'USD')).toThrow('amount must be a decimal string such as "12.5", got "abc"');
  });
});
