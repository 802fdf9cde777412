import { Decimal } from 'decimal.js';
import fc from 'fast-check';
import { LosslessNumber } from 'lossless-json';
import { describe, expect, it } from 'vitest';
import { DECIMAL_INTEGER_DIGITS, DECIMAL_SCALE, toMeterDecimal, type DecimalCheck } from './decimal.js';

// The tests' own oracle, configured independently of the module and wide enough for every
// literal generated below.
const Exact = Decimal.clone({ precision: 200, toExpNeg: -1000, toExpPos: 1000 });
const LIMIT = new Exact(10).pow(DECIMAL_INTEGER_DIGITS);
const CANONICAL = /^-?(0|[1-9]\d*)(\.\d*[1-9])?$/;

function fitsColumn(text: string): boolean {
  const value = new Exact(text);
  return value.decimalPlaces() <= DECIMAL_SCALE && value.abs().lt(LIMIT);
}

function okValue(check: DecimalCheck): string {
  if (!check.ok) throw new Error(`expected ok, got: ${check.reason}`);
  return check.value;
}

function reasonOf(check: DecimalCheck): string {
  if (check.ok) throw new Error(`expected a rejection, got ${check.value}`);
  return check.reason;
}

const digits = (minLength: number, maxLength: number) =>
  fc.string({ unit: fc.constantFrom(...'0123456789'), minLength, maxLength });

describe('toMeterDecimal worked examples', () => {
  it('exposes the Decimal(38, 9) shape', () => {
    expect(DECIMAL_SCALE).toBe(9);
    expect(DECIMAL_INTEGER_DIGITS).toBe(29);
  });

  it.each([
    ['1.50', '1.5'],
    ['1e3', '1000'],
    ['1E+3', '1000'],
    ['0.000000001', '0.000000001'],
    ['1e-9', '0.000000001'],
    ['-0.0', '0'],
    ['-0', '0'],
    ['+0e5', '0'],
    ['+1', '1'],
    ['1.', '1'],
    ['.5', '0.5'],
    ['-.5', '-0.5'],
    ['007.1200', '7.12'],
    ['1.000000000000', '1'],
    ['12.5e-1', '1.25'],
    ['0.00000000123e2', '0.000000123'],
    ['123456789e-9', '0.123456789'],
    ['99999999999999999999999999999.999999999', '99999999999999999999999999999.999999999'],
    ['-99999999999999999999999999999.999999999', '-99999999999999999999999999999.999999999'],
    ['1e28', '10000000000000000000000000000'],
    [`1${'0'.repeat(1000)}e-1000`, '1'],
    ['0e99999999999999999999', '0'],
  ])('accepts the string %j as %j', (input, expected) => {
    expect(okValue(toMeterDecimal(input))).toBe(expected);
  });

  it('keeps exactly 29 integer digits and rejects 30', () => {
    const twentyNine = '9'.repeat(29);
    expect(okValue(toMeterDecimal(twentyNine))).toBe(twentyNine);
    expect(reasonOf(toMeterDecimal(`1${'0'.repeat(29)}`))).toBe('has 30 integer digits; at most 29 fit');
    expect(reasonOf(toMeterDecimal('1e29'))).toBe('has 30 integer digits; at most 29 fit');
    expect(reasonOf(toMeterDecimal(`-${'1'.repeat(31)}.5`))).toBe('has 31 integer digits; at most 29 fit');
    // Leading zeros are spelling, not digits of the value.
    expect(okValue(toMeterDecimal(`0000${twentyNine}`))).toBe(twentyNine);
  });

  it('keeps 9 decimal places and rejects 10 instead of rounding', () => {
    expect(reasonOf(toMeterDecimal('0.0000000001'))).toBe('has 10 decimal places; at most 9 are kept');
    expect(reasonOf(toMeterDecimal('1.000000000001'))).toBe('has 12 decimal places; at most 9 are kept');
    expect(reasonOf(toMeterDecimal('1e-10'))).toBe('has 10 decimal places; at most 9 are kept');
    // Trailing zeros do not count: the value has one decimal place.
    expect(okValue(toMeterDecimal('2.50000000000000000000'))).toBe('2.5');
  });

  it('decides huge exponents without building huge numbers', () => {
    expect(reasonOf(toMeterDecimal('1e-9000000000000000'))).toBe(
      'has 9000000000000000 decimal places; at most 9 are kept',
    );
    expect(reasonOf(toMeterDecimal('1e9000000000000000'))).toBe(
      'has 9000000000000001 integer digits; at most 29 fit',
    );
    expect(reasonOf(toMeterDecimal(`1e-${'9'.repeat(50)}`))).toMatch(/decimal places; at most 9 are kept$/);
  });

  it.each([' 1', '1 ', '\t1', '1,5', '1_000', '0x10', '1e', 'e5', '.', '-', '+-1', '1e2.5', 'Infinity', 'NaN', '١', '１'])(
    'rejects the string %j',
    (input) => {
      expect(reasonOf(toMeterDecimal(input))).toBe(`${JSON.stringify(input)} is not a decimal number`);
    },
  );

  it('shortens long rejected strings in the reason', () => {
    const reason = reasonOf(toMeterDecimal(`x${'1'.repeat(500)}`));
    expect(reason.length).toBeLessThan(80);
    expect(reason).toMatch(/…" is not a decimal number$/);
  });

  it('rejects the empty string and non-numeric types with a readable reason', () => {
    expect(reasonOf(toMeterDecimal(''))).toBe('expected a decimal number, got an empty string');
    expect(reasonOf(toMeterDecimal(true))).toBe('expected a decimal number, got boolean');
    expect(reasonOf(toMeterDecimal(null))).toBe('expected a decimal number, got null');
    expect(reasonOf(toMeterDecimal(undefined))).toBe('expected a decimal number, got undefined');
    expect(reasonOf(toMeterDecimal({ value: '1' }))).toBe('expected a decimal number, got object');
    expect(reasonOf(toMeterDecimal(['1']))).toBe('expected a decimal number, got array');
    expect(reasonOf(toMeterDecimal(Symbol('1')))).toBe('expected a decimal number, got symbol');
    expect(reasonOf(toMeterDecimal(NaN))).toBe('expected a finite number, got NaN');
    expect(reasonOf(toMeterDecimal(Infinity))).toBe('expected a finite number, got Infinity');
    expect(reasonOf(toMeterDecimal(-Infinity))).toBe('expected a finite number, got -Infinity');
    expect(reasonOf(toMeterDecimal(new Exact('1')))).toBe('expected a decimal number, got object');
  });

  it('reads JS numbers through their shortest decimal text', () => {
    expect(okValue(toMeterDecimal(1.5))).toBe('1.5');
    expect(okValue(toMeterDecimal(0.1))).toBe('0.1');
    expect(okValue(toMeterDecimal(-0))).toBe('0');
    expect(okValue(toMeterDecimal(1e21))).toBe('1000000000000000000000');
    expect(okValue(toMeterDecimal(1e-7))).toBe('0.0000001');
    expect(reasonOf(toMeterDecimal(0.1 + 0.2))).toBe('has 17 decimal places; at most 9 are kept');
    expect(reasonOf(toMeterDecimal(5e-324))).toBe('has 324 decimal places; at most 9 are kept');
    expect(reasonOf(toMeterDecimal(1e30))).toBe('has 31 integer digits; at most 29 fit');
  });

  it('reads bigints and LosslessNumbers exactly', () => {
    expect(okValue(toMeterDecimal(12345678901234567890123456789n))).toBe('12345678901234567890123456789');
    expect(okValue(toMeterDecimal(-5n))).toBe('-5');
    expect(reasonOf(toMeterDecimal(10n ** 29n))).toBe('has 30 integer digits; at most 29 fit');
    expect(okValue(toMeterDecimal(new LosslessNumber('0.10000000000000001e8')))).toBe('10000000.000000001');
    expect(okValue(toMeterDecimal(new LosslessNumber('-0')))).toBe('0');
    expect(reasonOf(toMeterDecimal(new LosslessNumber('0.10000000000000001')))).toBe(
      'has 17 decimal places; at most 9 are kept',
    );
  });
});

describe('toMeterDecimal properties', () => {
  // A decimal assembled from digit strings that fit the column, written in one of several
  // equivalent spellings (leading zeros, trailing zeros, moved point with a compensating exponent).
  const inBounds = fc
    .record({
      sign: fc.constantFrom('', '-', '+'),
      integer: digits(0, DECIMAL_INTEGER_DIGITS),
      fraction: digits(0, DECIMAL_SCALE),
      leadingZeros: fc.nat(5),
      trailingZeros: fc.nat(5),
      shift: fc.integer({ min: -40, max: 40 }),
      exponentLetter: fc.constantFrom('e', 'E'),
    })
    .filter(({ integer, fraction }) => integer.length + fraction.length > 0)
    .map(({ sign, integer, fraction, leadingZeros, trailingZeros, shift, exponentLetter }) => {
      const plain = `${sign}${integer}${fraction === '' ? '' : `.${fraction}`}`;
      const allDigits = `${'0'.repeat(leadingZeros)}${integer}${fraction}${'0'.repeat(trailingZeros)}`;
      // Put the point `shift` places left of where it belongs and say so with an exponent.
      const pointAt = leadingZeros + integer.length - shift;
      let spelled: string;
      if (pointAt <= 0) spelled = `${sign}0.${'0'.repeat(-pointAt)}${allDigits}${exponentLetter}${shift}`;
      else if (pointAt >= allDigits.length) spelled = `${sign}${allDigits}${'0'.repeat(pointAt - allDigits.length)}${exponentLetter}${shift}`;
      else spelled = `${sign}${allDigits.slice(0, pointAt)}.${allDigits.slice(pointAt)}${exponentLetter}${shift}`;
      return { plain, spelled };
    });

  it('accepts every in-bounds decimal and returns an equal value', () => {
    fc.assert(
      fc.property(inBounds, ({ plain, spelled }) => {
        const fromPlain = okValue(toMeterDecimal(plain));
        const fromSpelled = okValue(toMeterDecimal(spelled));
        expect(new Exact(fromPlain).eq(new Exact(plain))).toBe(true);
        expect(new Exact(fromSpelled).eq(new Exact(spelled))).toBe(true);
        // Two spellings of one value give one canonical text.
        expect(fromSpelled).toBe(fromPlain);
      }),
      { numRuns: 2000 },
    );
  });

  it('returns canonical text that reads back unchanged', () => {
    fc.assert(
      fc.property(inBounds, ({ spelled }) => {
        const value = okValue(toMeterDecimal(spelled));
        expect(value).toMatch(CANONICAL);
        expect(value).not.toBe('-0');
        expect(okValue(toMeterDecimal(value))).toBe(value);
        expect(value).toBe(new Exact(spelled).toFixed());
      }),
      { numRuns: 1000 },
    );
  });

  it('accepts exactly the grammar strings that fit the column', () => {
    const literal = fc
      .record({
        sign: fc.constantFrom('', '-', '+'),
        integer: digits(0, 40),
        fraction: fc.option(digits(0, 20)),
        exponent: fc.option(fc.tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), digits(1, 3))),
      })
      .filter(({ integer, fraction }) => integer.length > 0 || (fraction !== null && fraction.length > 0))
      .map(({ sign, integer, fraction, exponent }) =>
        `${sign}${integer}${fraction === null ? '' : `.${fraction}`}${exponent === null ? '' : exponent.join('')}`,
      );
    fc.assert(
      fc.property(literal, (text) => {
        const check = toMeterDecimal(text);
        expect(check.ok).toBe(fitsColumn(text));
        if (check.ok) expect(new Exact(check.value).eq(new Exact(text))).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('rejects values just outside either bound', () => {
    const tooManyIntegerDigits = fc
      .tuple(fc.constantFrom(...'123456789'), digits(DECIMAL_INTEGER_DIGITS, 40), digits(0, 9))
      .map(([lead, rest, fraction]) => `${lead}${rest}${fraction === '' ? '' : `.${fraction}`}`);
    const tooManyDecimalPlaces = fc
      .tuple(digits(0, 29), digits(DECIMAL_SCALE, 20), fc.constantFrom(...'123456789'))
      .map(([integer, fraction, last]) => `${integer}.${fraction}${last}`);
    fc.assert(
      fc.property(fc.oneof(tooManyIntegerDigits, tooManyDecimalPlaces), fc.constantFrom('', '-'), (text, sign) => {
        expect(toMeterDecimal(`${sign}${text}`).ok).toBe(false);
      }),
      { numRuns: 1000 },
    );
  });

  it('agrees with the shortest text of any finite double', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (n) => {
        const check = toMeterDecimal(n);
        const text = String(n);
        expect(check.ok).toBe(fitsColumn(text));
        if (check.ok) expect(new Exact(check.value).eq(new Exact(text))).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('reads bigints exactly', () => {
    const bound = 10n ** BigInt(DECIMAL_INTEGER_DIGITS);
    fc.assert(
      fc.property(fc.bigInt({ min: -(bound * 10n), max: bound * 10n }), (n) => {
        const check = toMeterDecimal(n);
        const abs = n < 0n ? -n : n;
        expect(check.ok).toBe(abs < bound);
        if (check.ok) expect(check.value).toBe(n.toString());
      }),
    );
  });

  it('never throws, whatever it is given', () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything(), fc.string({ unit: 'binary' })), (input) => {
        const check = toMeterDecimal(input);
        expect(typeof check.ok).toBe('boolean');
      }),
      { numRuns: 1000 },
    );
  });
});
