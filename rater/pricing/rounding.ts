import { D, parseDecimal, preview } from '../../platform/money.js';

// ISO 4217 minor units for every active code whose minor unit is not 2; every other code,
// including the ones ISO lists as "N.A." (XAU, XDR, XXX, ...), gets 2.
//
// This table, not Intl, is the source of truth. Node 20's Intl (CLDR data) agrees with ISO for
// the codes most used here (JPY, KRW, USD, EUR, BHD, KWD, JOD, OMR, TND, CLF, UYW; see the tests)
// but reports the digits in everyday use for others: 0 for HUF, IDR and COP (ISO: 2) and for IQD
// (ISO: 3). Invoices follow ISO.
const MINOR_UNIT_DIGITS: ReadonlyMap<string, number> = new Map([
  ...['BIF', 'CLP', 'DJF', 'GNF', 'ISK', 'JPY', 'KMF', 'KRW', 'PYG', 'RWF', 'UGX', 'UYI', 'VND', 'VUV', 'XAF', 'XOF', 'XPF'].map(
    (code) => [code, 0] as const,
  ),
  ...['BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND'].map((code) => [code, 3] as const),
  ...['CLF', 'UYW'].map((code) => [code, 4] as const),
]);

const DEFAULT_MINOR_UNIT_DIGITS = 2;
const CURRENCY_CODE = /^[A-Za-z]{3}$/;

/** The number of digits after the decimal point in the currency's ISO 4217 minor unit. */
export function minorUnitDigits(currency: string): number {
  if (!CURRENCY_CODE.test(currency)) {
    throw new RangeError(`currency must be a three-letter ISO 4217 code, got ${preview(currency)}`);
  }
  return MINOR_UNIT_DIGITS.get(currency.toUpperCase()) ?? DEFAULT_MINOR_UNIT_DIGITS;
}

/**
 * Rounds an amount to the currency's minor unit, half-up: ties go away from zero, so "2.675" USD
 * is "2.68" and "-0.005" USD is "-0.01".
 *
 * Unlike the canonical decimals elsewhere in this module, the result always has exactly the
 * minor unit's digits after the point ("51.00" USD, "1235" JPY, "1.235" BHD), because it is a
 * currency amount ready for an invoice. A result of zero is never signed ("0.00", not "-0.00").
 */
export function roundToMinorUnit(amount: string, currency: string): string {
  const digits = minorUnitDigits(currency);
  const rounded = parseDecimal(amount, 'amount').toDecimalPlaces(digits, D.ROUND_HALF_UP);
  return rounded.isZero() ? rounded.abs().toFixed(digits) : rounded.toFixed(digits);
}
