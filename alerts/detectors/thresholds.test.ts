import { Decimal } from 'decimal.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_CROSSED_THRESHOLDS, crossedThresholds, type ThresholdCrossingInput } from './thresholds.js';

// The tests' own oracle, configured apart from the module and wide enough for every value below.
const Exact = Decimal.clone({ precision: 200, toExpNeg: -1000, toExpPos: 1000 });
const CANONICAL = /^(0|[1-9]\d*)(\.\d*[1-9])?$/;

/** A decimal string in [min, max] with up to `maxScale` fraction digits (both bounds scaled). */
function amount(min: number, max: number, maxScale = 2): fc.Arbitrary<string> {
  return fc.integer({ min: 0, max: maxScale }).chain((scale) =>
    fc
      .bigInt({ min: BigInt(min) * 10n ** BigInt(scale), max: BigInt(max) * 10n ** BigInt(scale) })
      .map((units) => new Exact(units.toString()).div(new Exact(10).pow(scale)).toFixed()),
  );
}

/** Strictly ascending non-negative thresholds. */
const ascending = fc.uniqueArray(amount(0, 3000), { maxLength: 6, selector: (text) => new Exact(text).toFixed() }).map((texts) =>
  [...texts].sort((a, b) => new Exact(a).cmp(b)),
);
const step = fc.option(amount(1, 400), { nil: undefined });
const spend = amount(-100, 6000);

/** Every threshold of the series up to `limit`, by plain enumeration. */
function seriesUpTo(thresholds: readonly string[], recurringStep: string | undefined, limit: Decimal): Decimal[] {
  const all = thresholds.map((t) => new Exact(t));
  if (recurringStep === undefined) return all;
  const base = all.at(-1) ?? new Exact(0);
  for (let t = base.plus(recurringStep); t.lte(limit); t = t.plus(recurringStep)) all.push(t);
  return all;
}

describe('crossedThresholds worked examples', () => {
  const fixed = ['100', '500', '1000'];

  it.each<[string | undefined, string, string[]]>([
    ['50', '600', ['100', '500']],
    [undefined, '1200', ['100', '500', '1000']],
    [undefined, '99', []],
    ['99.99', '100', ['100']],
    ['100', '100', []],
    ['100', '100.01', []],
    ['600', '600', []],
    ['2000', '150', []],
    ['-50', '100', ['100']],
  ])('previous %s → current %s crosses %j', (previous, current, expected) => {
    expect(crossedThresholds({ previous, current, thresholds: fixed })).toEqual(expected);
  });

  it('continues after the last fixed threshold with the recurring step', () => {
    expect(crossedThresholds({ previous: '900', current: '2600', thresholds: ['1000'], recurringStep: '500' })).toEqual([
      '1000',
      '1500',
      '2000',
      '2500',
    ]);
    expect(crossedThresholds({ previous: '1000', current: '1499.99', thresholds: ['1000'], recurringStep: '500' })).toEqual([]);
  });

  it('starts the recurring series from 0 when there are no fixed thresholds', () => {
    expect(crossedThresholds({ previous: '250', current: '420', thresholds: [], recurringStep: '100' })).toEqual(['300', '400']);
    expect(crossedThresholds({ current: '0', thresholds: [], recurringStep: '100' })).toEqual([]);
  });

  it('reports thresholds in canonical form', () => {
    expect(crossedThresholds({ current: '250', thresholds: ['100.50'], recurringStep: '0.250' })).toHaveLength(599);
    expect(crossedThresholds({ current: '101', thresholds: ['100.50'], recurringStep: '0.250' })).toEqual(['100.5', '100.75', '101']);
  });

  it('handles amounts far beyond a double without losing the last digit', () => {
    const big = '1000000000000000000000000';
    expect(crossedThresholds({ previous: big, current: '1000000000000000000000250', thresholds: [], recurringStep: '100' })).toEqual([
      '1000000000000000000000100',
      '1000000000000000000000200',
    ]);
  });

  it(`reports up to ${MAX_CROSSED_THRESHOLDS} thresholds and refuses more without enumerating them`, () => {
    expect(crossedThresholds({ current: String(MAX_CROSSED_THRESHOLDS), thresholds: [], recurringStep: '1' })).toHaveLength(
      MAX_CROSSED_THRESHOLDS,
    );
    expect(() => crossedThresholds({ current: String(MAX_CROSSED_THRESHOLDS + 1), thresholds: [], recurringStep: '1' })).toThrow(
      /10001 thresholds would be reported/,
    );
    const started = Date.now();
    expect(() => crossedThresholds({ current: `1${'0'.repeat(40)}`, thresholds: ['5'], recurringStep: '0.01' })).toThrow(RangeError);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it.each<[string, Partial<ThresholdCrossingInput>]>([
    ['not ascending', { thresholds: ['500', '100'] }],
    ['a duplicate', { thresholds: ['100', '100.0'] }],
    ['a negative threshold', { thresholds: ['-1', '100'] }],
    ['a zero step', { recurringStep: '0' }],
    ['a negative step', { recurringStep: '-5' }],
    ['exponent notation', { current: '1e3' }],
    ['an empty string', { previous: '' }],
    ['surrounding spaces', { thresholds: [' 100'] }],
  ])('rejects %s with a RangeError', (_, override) => {
    expect(() => crossedThresholds({ current: '10', thresholds: ['1'], ...override })).toThrow(RangeError);
  });
});

describe('crossedThresholds properties', () => {
  it('returns exactly the series members t with previous < t ≤ current, sorted, canonical and distinct', () => {
    fc.assert(
      fc.property(fc.option(spend, { nil: undefined }), spend, ascending, step, (previous, current, thresholds, recurringStep) => {
        const result = crossedThresholds({ previous, current, thresholds, recurringStep });
        const low = new Exact(previous ?? '0');
        const expected = seriesUpTo(thresholds, recurringStep, new Exact(current))
          .filter((t) => low.lt(t) && t.lte(current))
          .map((t) => t.toFixed());
        expect(result).toEqual(expected);
        result.forEach((t, i) => {
          expect(t).toMatch(CANONICAL);
          if (i > 0) expect(new Exact(result[i - 1] ?? '').lt(t)).toBe(true);
        });
      }),
    );
  });

  it('splits at any intermediate value: crossed(a→b) then crossed(b→c) is crossed(a→c)', () => {
    fc.assert(
      fc.property(fc.tuple(spend, spend, spend), ascending, step, (values, thresholds, recurringStep) => {
        const [a, b, c] = [...values].sort((x, y) => new Exact(x).cmp(y)) as [string, string, string];
        const whole = crossedThresholds({ previous: a, current: c, thresholds, recurringStep });
        const first = crossedThresholds({ previous: a, current: b, thresholds, recurringStep });
        const second = crossedThresholds({ previous: b, current: c, thresholds, recurringStep });
        expect([...first, ...second]).toEqual(whole);
      }),
    );
  });

  it('crosses nothing when spend goes down or stays', () => {
    fc.assert(
      fc.property(spend, spend, ascending, step, (x, y, thresholds, recurringStep) => {
        const [low, high] = new Exact(x).lte(y) ? [x, y] : [y, x];
        expect(crossedThresholds({ previous: high, current: low, thresholds, recurringStep })).toEqual([]);
      }),
    );
  });

  it('either reports at most the cap or throws a RangeError, for any size of jump', () => {
    fc.assert(
      fc.property(amount(0, 10 ** 9, 0), amount(1, 1000, 3), (current, recurringStep) => {
        const count = new Exact(current).divToInt(recurringStep).toNumber();
        const evaluate = () => crossedThresholds({ current, thresholds: [], recurringStep });
        if (count > MAX_CROSSED_THRESHOLDS) expect(evaluate).toThrow(RangeError);
        else expect(evaluate()).toHaveLength(count);
      }),
    );
  });
});
