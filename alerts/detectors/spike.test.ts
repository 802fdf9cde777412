import { Decimal } from 'decimal.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RATIO_SCALE, detectSpike, topDrivers, type KeyedCost, type SpikeInput } from './spike.js';

const Exact = Decimal.clone({ precision: 200, toExpNeg: -1000, toExpPos: 1000 });

function amount(min: number, max: number, maxScale = 2): fc.Arbitrary<string> {
  return fc.integer({ min: 0, max: maxScale }).chain((scale) =>
    fc
      .bigInt({ min: BigInt(min) * 10n ** BigInt(scale), max: BigInt(max) * 10n ** BigInt(scale) })
      .map((units) => new Exact(units.toString()).div(new Exact(10).pow(scale)).toFixed()),
  );
}

function oracleMedian(values: readonly string[]): Decimal {
  const sorted = values.map((v) => new Exact(v)).sort((a, b) => a.cmp(b));
  const n = sorted.length;
  return n % 2 === 1 ? (sorted[(n - 1) / 2] as Decimal) : (sorted[n / 2 - 1] as Decimal).plus(sorted[n / 2] as Decimal).div(2);
}

/** A configuration with 1 ≤ resolveRatio ≤ ratio, plus a cost history, a current cost and a prior state. */
const spikeInput: fc.Arbitrary<SpikeInput> = fc
  .record({
    current: amount(0, 2000),
    baseline: fc.array(fc.oneof(amount(0, 300), fc.constant('0')), { minLength: 1, maxLength: 8 }),
    ratio: amount(1, 10, 1),
    resolveFraction: fc.integer({ min: 1, max: 10 }),
    minIncrease: amount(0, 200),
    firing: fc.boolean(),
  })
  .map(({ ratio, resolveFraction, ...rest }) => ({
    ...rest,
    ratio,
    resolveRatio: new Exact(ratio).times(resolveFraction).div(10).toFixed(),
  }));

const withShuffledBaseline = spikeInput.chain((input) =>
  fc.tuple(
    fc.constant(input),
    fc.shuffledSubarray([...input.baseline], { minLength: input.baseline.length, maxLength: input.baseline.length }),
  ),
);

describe('detectSpike worked examples', () => {
  const config = { ratio: '5', minIncrease: '20', resolveRatio: '2' };
  // The same hour on the previous 7 days, one of which already spiked.
  const week = ['10', '12', '11', '9', '10', '200', '10'];

  it('fires against the median of the trailing windows, which one past spike does not move', () => {
    // The mean, 37.43, would put 60 at a ratio of 1.6 and hide this spike.
    expect(detectSpike({ ...config, current: '60', baseline: week, firing: false })).toEqual({
      state: 'firing',
      transition: 'fired',
      baselineValue: '10',
      observedRatio: '6',
    });
  });

  it('takes the mean of the middle two windows for an even count', () => {
    expect(detectSpike({ ...config, current: '15', baseline: ['20', '10'], firing: false }).baselineValue).toBe('15');
  });

  it.each<[string, string, string[], boolean, Partial<ReturnType<typeof detectSpike>>]>([
    ['exactly at ratio and minIncrease', '50', ['10'], false, { state: 'firing', transition: 'fired', observedRatio: '5' }],
    ['just below ratio', '49.99', ['10'], false, { state: 'ok', observedRatio: '4.999' }],
    ['ratio met but too small an increase', '0.5', ['0.01'], false, { state: 'ok', observedRatio: '50' }],
    ['between resolveRatio and ratio while firing', '30', ['10'], true, { state: 'firing', observedRatio: '3' }],
    ['exactly at resolveRatio while firing', '20', ['10'], true, { state: 'firing', observedRatio: '2' }],
    ['below resolveRatio while firing', '19.99', ['10'], true, { state: 'ok', transition: 'resolved', observedRatio: '1.999' }],
    ['between resolveRatio and ratio while ok', '30', ['10'], false, { state: 'ok', observedRatio: '3' }],
    ['a zero baseline and enough increase', '25', ['0', '0', '0'], false, { state: 'firing', transition: 'fired', observedRatio: null }],
    ['a zero baseline and too little increase', '15', ['0', '0', '0'], false, { state: 'ok', observedRatio: null }],
    ['a zero baseline, still costing, while firing', '5', ['0'], true, { state: 'firing', observedRatio: null }],
    ['a zero baseline, back to nothing, while firing', '0', ['0'], true, { state: 'ok', transition: 'resolved', observedRatio: null }],
  ])('%s', (_, current, baseline, firing, expected) => {
    const result = detectSpike({ ...config, current, baseline, firing });
    expect(result).toMatchObject(expected);
    if (!('transition' in expected)) expect(result).not.toHaveProperty('transition');
  });

  it(`reports the ratio rounded down to ${RATIO_SCALE} places`, () => {
    expect(detectSpike({ ...config, current: '20', baseline: ['3'], firing: false }).observedRatio).toBe('6.666666');
  });

  it.each<[string, Partial<SpikeInput>]>([
    ['an empty baseline', { baseline: [] }],
    ['a negative cost', { current: '-1' }],
    ['a negative baseline window', { baseline: ['10', '-1'] }],
    ['a ratio below 1', { ratio: '0.5', resolveRatio: '0.25' }],
    ['a resolveRatio above ratio', { resolveRatio: '6' }],
    ['a zero resolveRatio', { resolveRatio: '0' }],
    ['a negative minIncrease', { minIncrease: '-1' }],
  ])('rejects %s', (_, override) => {
    expect(() => detectSpike({ ...config, current: '60', baseline: week, firing: false, ...override })).toThrow(RangeError);
  });
});

describe('detectSpike properties', () => {
  it('uses the median, whatever the order of the windows', () => {
    fc.assert(
      fc.property(withShuffledBaseline, ([input, shuffled]) => {
        const result = detectSpike(input);
        expect(result.baselineValue).toBe(oracleMedian(input.baseline).toFixed());
        expect(detectSpike({ ...input, baseline: shuffled })).toEqual(result);
      }),
    );
  });

  it('is not moved by one past spike among three or more windows', () => {
    fc.assert(
      fc.property(spikeInput, amount(0, 10 ** 6), (input, extra) => {
        fc.pre(input.baseline.length >= 3);
        const sorted = [...input.baseline].sort((a, b) => new Exact(a).cmp(b));
        const spiked = [...sorted.slice(0, -1), new Exact(sorted.at(-1) ?? '0').plus(extra).toFixed()];
        expect(detectSpike({ ...input, baseline: spiked }).baselineValue).toBe(detectSpike(input).baselineValue);
      }),
    );
  });

  it('never fires when the increase is below minIncrease', () => {
    fc.assert(
      fc.property(spikeInput, (input) => {
        fc.pre(new Exact(input.current).minus(oracleMedian(input.baseline)).lt(input.minIncrease));
        expect(detectSpike(input).transition).not.toBe('fired');
      }),
    );
  });

  it('keeps a firing alert firing while the ratio is at least resolveRatio', () => {
    fc.assert(
      fc.property(spikeInput, (input) => {
        const baseline = oracleMedian(input.baseline);
        const ratioHolds = baseline.isZero() ? new Exact(input.current).gt(0) : new Exact(input.current).div(baseline).gte(input.resolveRatio);
        fc.pre(ratioHolds);
        expect(detectSpike({ ...input, firing: true })).toMatchObject({ state: 'firing' });
        expect(detectSpike({ ...input, firing: true }).transition).toBeUndefined();
      }),
    );
  });

  it('keeps an ok state below ratio', () => {
    fc.assert(
      fc.property(spikeInput, (input) => {
        const baseline = oracleMedian(input.baseline);
        fc.pre(!baseline.isZero() && new Exact(input.current).div(baseline).lt(input.ratio));
        expect(detectSpike({ ...input, firing: false })).toMatchObject({ state: 'ok' });
        expect(detectSpike({ ...input, firing: false }).transition).toBeUndefined();
      }),
    );
  });

  it('reports a transition exactly when the state changes', () => {
    fc.assert(
      fc.property(spikeInput, (input) => {
        const { state, transition } = detectSpike(input);
        const expected = state === 'firing' ? (input.firing ? undefined : 'fired') : input.firing ? 'resolved' : undefined;
        expect(transition).toBe(expected);
      }),
    );
  });
});

describe('topDrivers', () => {
  const row = (key: string, cost: string): KeyedCost => ({ key, cost });

  it('ranks keys by cost increase, leaving out keys that did not rise', () => {
    const current = [row('compute', '100'), row('storage', '50'), row('egress', '30')];
    const baseline = [row('compute', '90'), row('storage', '10'), row('backup', '40')];
    expect(topDrivers(current, baseline)).toEqual([
      { key: 'storage', current: '50', baseline: '10', increase: '40' },
      { key: 'egress', current: '30', baseline: '0', increase: '30' },
      { key: 'compute', current: '100', baseline: '90', increase: '10' },
    ]);
    expect(topDrivers(current, baseline, 2).map((d) => d.key)).toEqual(['storage', 'egress']);
    expect(topDrivers(current, baseline, 0)).toEqual([]);
  });

  it('breaks ties by key and sums repeated keys', () => {
    const current = [row('b', '5'), row('a', '2'), row('a', '3'), row('c', '5.00')];
    expect(topDrivers(current, []).map((d) => [d.key, d.increase])).toEqual([
      ['a', '5'],
      ['b', '5'],
      ['c', '5'],
    ]);
  });

  it.each([-1, 1.5, Number.NaN])('rejects a limit of %s', (limit) => {
    expect(() => topDrivers([], [], limit)).toThrow(RangeError);
  });

  it('returns the largest positive increases, descending, ties by key, and a longer limit only extends the list', () => {
    const rows = fc.array(fc.record({ key: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g'), cost: amount(0, 100) }), { maxLength: 10 });
    fc.assert(
      fc.property(rows, rows, fc.integer({ min: 0, max: 8 }), (current, baseline, limit) => {
        const result = topDrivers(current, baseline, limit);
        const all = topDrivers(current, baseline, 100);
        expect(result).toEqual(all.slice(0, limit));
        const total = (list: KeyedCost[], key: string) => list.filter((r) => r.key === key).reduce((s, r) => s.plus(r.cost), new Exact(0));
        all.forEach((driver, i) => {
          expect(driver.increase).toBe(total(current, driver.key).minus(total(baseline, driver.key)).toFixed());
          expect(new Exact(driver.increase).gt(0)).toBe(true);
          const next = all[i + 1];
          if (next) {
            const order = new Exact(driver.increase).cmp(next.increase);
            expect(order > 0 || (order === 0 && driver.key < next.key)).toBe(true);
          }
        });
        const risen = new Set([...current.map((r) => r.key)].filter((key) => total(current, key).gt(total(baseline, key))));
        expect(new Set(all.map((d) => d.key))).toEqual(risen);
      }),
    );
  });
});
