import { D, ZERO, format, parseFraction, parseNonNegative, prorate, sub } from '../../platform/money.js';

/**
 * The top-up that brings a period's charges up to a minimum commitment:
 * max(0, commitment × fraction − chargesSum), unrounded. The product with the fraction is
 * exact when it fits 60 significant digits and rounded half-up to 60 otherwise, since the
 * fraction is typically a rounded ratio itself; the subtraction is exact.
 *
 * `fraction` is the share of the period the contract covered, in [0, 1], so a contract that
 * starts mid-period owes the prorated commitment. All three values must be decimal strings ≥ 0
 * (fraction also ≤ 1); anything else throws a RangeError.
 */
export function commitmentTrueUp(commitment: string, chargesSum: string, fraction = '1'): string {
  const committed = prorate(parseNonNegative(commitment, 'commitment'), parseFraction(fraction, 'fraction'));
  const charged = parseNonNegative(chargesSum, 'chargesSum');
  return format(D.max(ZERO, sub(committed, charged)));
}
