import { Decimal } from 'decimal.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AlertDecimal, PRECISION, floorDiv, format, minus, parseDecimal, parseNonNegative, parsePositive, plus, times } from './decimal.js';

const Exact = Decimal.clone({ precision: 400, toExpNeg: -1000, toExpPos: 1000 });

/** A decimal string with up to `digits` digits and a scale up to `maxScale`. */
function decimalText(digits: number, maxScale: number): fc.Arbitrary<string> {
  return fc
    .tuple(fc.bigInt({ min: -(10n ** BigInt(digits)) + 1n, max: 10n ** BigInt(digits) - 1n }), fc.integer({ min: 0, max: maxScale }))
    .map(([units, scale]) => new Exact(units.toString()).div(new Exact(10).pow(scale)).toFixed());
}

describe('alert decimals', () => {
  it('parses the plain decimal grammar only', () => {
    expect(format(parseDecimal('0012.500', 'x'))).toBe('12.5');
    expect(format(parseDecimal('-0', 'x'))).toBe('0');
    for (const bad of ['', ' 1', '1e3', '+1', '.5', '1.', 'NaN', 'Infinity', '1'.repeat(101)]) {
      expect(() => parseDecimal(bad, 'x')).toThrow(RangeError);
    }
    expect(() => parseDecimal(12, 'x')).toThrow(/must be a decimal string, got number/);
    expect(format(parseNonNegative('-0.00', 'x'))).toBe('0');
    expect(() => parseNonNegative('-0.01', 'x')).toThrow(/must not be negative/);
    expect(() => parsePositive('0', 'x')).toThrow(/greater than 0/);
  });

  it('leaves the global Decimal settings alone', () => {
    expect(Decimal.precision).toBe(20);
    expect(AlertDecimal.precision).toBe(PRECISION);
  });

  it('throws rather than round a sum, product or quotient', () => {
    const big = new AlertDecimal(`1${'0'.repeat(70)}`);
    expect(() => plus(big, new AlertDecimal('0.5'))).toThrow(/a sum needs more than 60/);
    expect(() => times(new AlertDecimal('1.'.padEnd(40, '3')), new AlertDecimal('1.'.padEnd(40, '7')))).toThrow(/a product/);
    expect(() => floorDiv(big, new AlertDecimal('0.3'))).toThrow(RangeError);
    expect(format(floorDiv(new AlertDecimal('10'), new AlertDecimal('3')))).toBe('3');
    expect(format(floorDiv(new AlertDecimal('9'), new AlertDecimal('3')))).toBe('3');
  });

  it('computes exact sums, differences and products, or throws', () => {
    fc.assert(
      fc.property(decimalText(45, 30), decimalText(45, 30), (a, b) => {
        const [x, y] = [new AlertDecimal(a), new AlertDecimal(b)];
        for (const [operation, oracle] of [
          [() => plus(x, y), new Exact(a).plus(b)],
          [() => minus(x, y), new Exact(a).minus(b)],
          [() => times(x, y), new Exact(a).times(b)],
        ] as const) {
          if (oracle.sd() > PRECISION) expect(operation).toThrow(RangeError);
          else expect(format(operation())).toBe(oracle.isZero() ? '0' : oracle.toFixed());
        }
      }),
    );
  });
});
