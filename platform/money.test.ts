import { Decimal } from 'decimal.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  COLUMN_SIZED,
  D,
  PRECISION,
  add,
  averageOf,
  canonicalNumberText,
  ceilDiv,
  floorDiv,
  format,
  mul,
  parseDecimal,
  parseFraction,
  parseNonNegative,
  parsePositive,
  percentOf,
  prorate,
  sub,
  sumOfTexts,
  wideSum,
} from './money.js';

// An oracle with room for every value generated below, configured apart from the module's own.
const Exact = Decimal.clone({ precision: 400, toExpNeg: -1000, toExpPos: 1000 });

/** A decimal string with up to `digits` digits and a scale up to `maxScale`. */
function boundedDecimalText(digits: number, maxScale: number): fc.Arbitrary<string> {
  return fc
    .tuple(fc.bigInt({ min: -(10n ** BigInt(digits)) + 1n, max: 10n ** BigInt(digits) - 1n }), fc.integer({ min: 0, max: maxScale }))
    .map(([units, scale]) => new Exact(units.toString()).div(new Exact(10).pow(scale)).toFixed());
}

const decimalText = fc
  .tuple(fc.boolean(), fc.bigInt({ min: 0n, max: 10n ** 40n }), fc.integer({ min: 0, max: 30 }))
  .map(([negative, digits, scale]) => {
    const text = digits.toString().padStart(scale + 1, '0');
    const plain = scale === 0 ? text : `${text.slice(0, -scale)}.${text.slice(-scale)}`;
    return negative ? `-${plain}` : plain;
  });

describe('module constructor', () => {
  it('leaves the global Decimal settings alone', () => {
    expect(Decimal.precision).toBe(20);
    expect(Decimal.rounding).toBe(Decimal.ROUND_HALF_UP);
    expect(D.precision).toBe(60);
    expect(D.precision).toBe(PRECISION);
  });
});

describe('format', () => {
  it.each([
    ['1.50', '1.5'],
    ['-0', '0'],
    ['0.000', '0'],
    ['100', '100'],
    ['0.000000000000000000000000000001', '0.000000000000000000000000000001'],
    ['1' + '0'.repeat(80), '1' + '0'.repeat(80)],
  ])('writes %s as %s', (text, expected) => {
    expect(format(new D(text))).toBe(expected);
  });
});

describe('parsing', () => {
  it('names the value and shows the input', () => {
    expect(() => parseDecimal('1,5', 'price')).toThrow('price must be a decimal string such as "12.5", got "1,5"');
    expect(() => parseNonNegative('-2', 'quantity')).toThrow('quantity must not be negative, got "-2"');
    expect(() => parseFraction('2', 'fraction')).toThrow('fraction must be between 0 and 1, got "2"');
    expect(() => parseDecimal(null, 'x')).toThrow('x must be a decimal string, got object');
  });

  it('shortens long inputs in messages', () => {
    expect(() => parseDecimal('x'.repeat(100), 'x')).toThrow(`got "${'x'.repeat(40)}…"`);
  });
});

describe('exact arithmetic', () => {
  it('adds, subtracts and multiplies exactly whenever the result fits 60 digits', () => {
    fc.assert(
      fc.property(decimalText, decimalText, (a, b) => {
        const sum = new Exact(a).plus(b);
        const product = new Exact(a).times(b);
        const difference = new Exact(a).minus(b);
        const check = (compute: () => Decimal, exact: Decimal) => {
          if (exact.sd() <= 60) expect(compute().eq(exact)).toBe(true);
          else expect(compute).toThrow(RangeError);
        };
        check(() => add(new D(a), new D(b)), sum);
        check(() => sub(new D(a), new D(b)), difference);
        check(() => mul(new D(a), new D(b)), product);
      }),
    );
  });

  it('throws when a sum spans more than 60 digits', () => {
    expect(() => add(new D('1' + '0'.repeat(40)), new D('0.' + '0'.repeat(20) + '1'))).toThrow(/more than 60 significant digits/);
  });

  it('computes percentages exactly', () => {
    expect(format(percentOf(new D('123.45'), new D('2.9')))).toBe('3.58005');
  });

  it('rounds a proration half-up to 60 digits', () => {
    expect(format(prorate(new D('2'), new D(`0.${'6'.repeat(60)}`)))).toBe(`1.${'3'.repeat(59)}`);
    expect(format(prorate(new D('5'), new D(`0.${'3'.repeat(60)}`)))).toBe(`1.${'6'.repeat(58)}7`);
  });
});

describe('ceilDiv', () => {
  it.each([
    ['0', '100', '0'],
    ['1', '100', '1'],
    ['100', '100', '1'],
    ['100.000000001', '100', '2'],
    ['1', '0.3', '4'],
    ['0.9', '0.3', '3'],
  ])('⌈%s / %s⌉ = %s', (dividend, divisor, expected) => {
    expect(format(ceilDiv(new D(dividend), new D(divisor)))).toBe(expected);
  });

  it('returns the exact ceiling or throws, never a wrong count', () => {
    const nonNegative = decimalText.map((text) => text.replace('-', ''));
    const positive = nonNegative.filter((text) => !new Exact(text).isZero());
    fc.assert(
      fc.property(nonNegative, positive, (dividend, divisor) => {
        const exact = new Exact(dividend).div(divisor).ceil();
        let result: string;
        try {
          result = format(ceilDiv(new D(dividend), new D(divisor)));
        } catch (error) {
          expect(error).toBeInstanceOf(RangeError);
          return;
        }
        expect(result).toBe(exact.toFixed());
      }),
    );
  });

  it('never throws for stored quantities and package sizes of up to 15 digits', () => {
    // Stored quantities are Decimal(38, 9).
    const quantity = fc.tuple(fc.bigInt({ min: 0n, max: 10n ** 38n - 1n }), fc.integer({ min: 0, max: 9 }));
    const size = fc.tuple(fc.bigInt({ min: 1n, max: 10n ** 15n - 1n }), fc.integer({ min: 0, max: 9 }));
    const text = ([digits, scale]: [bigint, number]) => new Exact(digits.toString()).div(new Exact(10).pow(scale)).toFixed();
    fc.assert(
      fc.property(quantity.map(text), size.map(text), (dividend, divisor) => {
        expect(format(ceilDiv(new D(dividend), new D(divisor)))).toBe(new Exact(dividend).div(divisor).ceil().toFixed());
      }),
    );
  });
});

describe('column-sized amounts', () => {
  it('parses the plain decimal grammar only', () => {
    expect(format(parseDecimal('0012.500', 'x', COLUMN_SIZED))).toBe('12.5');
    expect(format(parseDecimal('-0', 'x', COLUMN_SIZED))).toBe('0');
    for (const bad of ['', ' 1', '1e3', '+1', '.5', '1.', 'NaN', 'Infinity', '1'.repeat(101)]) {
      expect(() => parseDecimal(bad, 'x', COLUMN_SIZED)).toThrow(RangeError);
    }
    expect(() => parseDecimal(12, 'x', COLUMN_SIZED)).toThrow(/must be a decimal string, got number/);
    expect(format(parseNonNegative('-0.00', 'x', COLUMN_SIZED))).toBe('0');
    expect(() => parseNonNegative('-0.01', 'x', COLUMN_SIZED)).toThrow(/must not be negative/);
    expect(() => parsePositive('0', 'x', COLUMN_SIZED)).toThrow(/greater than 0/);
  });

  it('caps the text length only when asked to', () => {
    const long = '1'.repeat(101);
    expect(format(parseDecimal(long, 'x'))).toBe(long);
    expect(format(parseDecimal('1'.repeat(100), 'x', COLUMN_SIZED))).toBe('1'.repeat(100));
    expect(() => parseDecimal(long, 'x', COLUMN_SIZED)).toThrow(`x must be a decimal string such as "12.5", got "${'1'.repeat(40)}…"`);
    expect(() => parseNonNegative(long, 'x', COLUMN_SIZED)).toThrow(RangeError);
    expect(() => parsePositive(long, 'x', COLUMN_SIZED)).toThrow(RangeError);
  });

  it('throws rather than round a sum, product or quotient', () => {
    const big = new D(`1${'0'.repeat(70)}`);
    expect(() => add(big, new D('0.5'))).toThrow(/a sum needs more than 60/);
    expect(() => mul(new D('1.'.padEnd(40, '3')), new D('1.'.padEnd(40, '7')))).toThrow(/a product/);
    expect(() => floorDiv(big, new D('0.3'))).toThrow(RangeError);
    expect(format(floorDiv(new D('10'), new D('3')))).toBe('3');
    expect(format(floorDiv(new D('9'), new D('3')))).toBe('3');
  });

  it('computes exact sums, differences and products, or throws', () => {
    fc.assert(
      fc.property(boundedDecimalText(45, 30), boundedDecimalText(45, 30), (a, b) => {
        const [x, y] = [new D(a), new D(b)];
        for (const [operation, oracle] of [
          [() => add(x, y), new Exact(a).plus(b)],
          [() => sub(x, y), new Exact(a).minus(b)],
          [() => mul(x, y), new Exact(a).times(b)],
        ] as const) {
          if (oracle.sd() > PRECISION) expect(operation).toThrow(RangeError);
          else expect(format(operation())).toBe(oracle.isZero() ? '0' : oracle.toFixed());
        }
      }),
    );
  });
});

describe('sums of texts', () => {
  it('adds exactly and names the bad entry', () => {
    expect(sumOfTexts(['0.1', '0.2', '-0.3'], 'parts')).toBe('0');
    expect(sumOfTexts([], 'parts')).toBe('0');
    expect(() => sumOfTexts(['1', '1e3'], 'parts')).toThrow('parts[1] must be a decimal string');
  });
});

describe('wideSum', () => {
  it('adds stored figures wider than 60 digits without rounding or refusing', () => {
    const widest = `${'9'.repeat(67)}.${'9'.repeat(9)}`;
    expect(wideSum([widest, widest, '0.000000001']).toFixed()).toBe(new Exact(widest).times(2).plus('0.000000001').toFixed());
    expect(wideSum([]).toFixed()).toBe('0');
  });

  it('hands back a value carried to 60 digits from there on', () => {
    expect(wideSum(['1']).constructor).toBe(D);
  });
});

describe('averageOf', () => {
  it.each([
    ['10', '4', '2.5'],
    ['1', '3', '0.333333333'],
    ['2', '3', '0.666666667'],
    // Half-even at the ninth place: ties go to the even digit.
    ['0.0000000005', '1', '0'],
    ['0.0000000015', '1', '0.000000002'],
    ['0.0000000025', '1', '0.000000002'],
  ])('%s / %s = %s', (total, count, expected) => {
    expect(averageOf(total, count)).toBe(expected);
  });
});

describe('canonicalNumberText', () => {
  it('writes every spelling of a number the same way, at any size', () => {
    expect(['1.50', '1.5', '1.5e0', '15e-1'].map(canonicalNumberText)).toEqual(['1.5', '1.5', '1.5', '1.5']);
    expect(canonicalNumberText('1e200')).toBe(`1${'0'.repeat(200)}`);
    expect(canonicalNumberText(`0.${'0'.repeat(500)}1`)).toBe(`0.${'0'.repeat(500)}1`);
    expect(() => canonicalNumberText('lots')).toThrow();
  });
});
