import { Decimal } from 'decimal.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FORECAST_SCALE, budgetThresholds, crossedBudgetThresholds, forecastPeriodEnd, forecastState, type ForecastInput } from './budget.js';

const Exact = Decimal.clone({ precision: 200, toExpNeg: -1000, toExpPos: 1000 });
const HOUR = 3_600_000;

function amount(max: number, maxScale = 2): fc.Arbitrary<string> {
  return fc.integer({ min: 0, max: maxScale }).chain((scale) =>
    fc
      .bigInt({ min: 0n, max: BigInt(max) * 10n ** BigInt(scale) })
      .map((units) => new Exact(units.toString()).div(new Exact(10).pow(scale)).toFixed()),
  );
}
const positive = amount(100_000).filter((text) => new Exact(text).gt(0));

describe('budgetThresholds worked examples', () => {
  it('places each percentage of the budget', () => {
    expect(budgetThresholds('1000', [50, 80, 100])).toEqual(['500', '800', '1000']);
    expect(budgetThresholds('1234.56', ['12.5', '100', '120'])).toEqual(['154.32', '1234.56', '1481.472']);
    expect(budgetThresholds('0.01', ['33.333'])).toEqual(['0.0033333']);
    expect(budgetThresholds('1000', [])).toEqual([]);
  });

  it.each<[string, string, Array<string | number>]>([
    ['a zero budget', '0', [50]],
    ['a negative budget', '-10', [50]],
    ['a negative percentage', '100', [-5, 50]],
    ['descending percentages', '100', [80, 50]],
    ['a repeated percentage', '100', ['50', 50]],
    ['a NaN percentage', '100', [Number.NaN]],
    ['a number printed with an exponent', '100', [1e-7]],
  ])('rejects %s', (_, budget, percentages) => {
    expect(() => budgetThresholds(budget, percentages)).toThrow(RangeError);
  });

  it('names the percentages crossed between two evaluations', () => {
    const crossed = (previous: string | undefined, current: string) =>
      crossedBudgetThresholds({ previous, current, budget: '1000', percentages: [50, 80, 100] });
    expect(crossed('400', '850')).toEqual([
      { percentage: '50', amount: '500' },
      { percentage: '80', amount: '800' },
    ]);
    expect(crossed(undefined, '1000')).toHaveLength(3);
    expect(crossed('850', '990')).toEqual([]);
    expect(crossed('990', '400')).toEqual([]);
  });
});

describe('forecastPeriodEnd worked examples', () => {
  const november = { periodStart: '2026-11-01T00:00:00Z', periodEnd: '2026-12-01T00:00:00Z' };

  it('extrapolates the rate since the period start', () => {
    // 100 in 10 days is 10 a day; 20 days remain.
    expect(forecastPeriodEnd({ ...november, spent: '100', asOf: '2026-11-11T00:00:00Z' })).toBe('300');
  });

  it('extrapolates the rate over the lookback window when one is given', () => {
    // 30 in the last day; 20 days remain.
    const input = { ...november, spent: '100', asOf: '2026-11-11T00:00:00Z', lookbackSpent: '30' };
    expect(forecastPeriodEnd({ ...input, lookbackStart: '2026-11-10T00:00:00Z' })).toBe('700');
    // The window may reach back into the previous period: 70 over 7 days.
    expect(forecastPeriodEnd({ ...november, spent: '5', asOf: '2026-11-02T00:00:00Z', lookbackSpent: '70', lookbackStart: '2026-10-26T00:00:00Z' })).toBe(
      '295',
    );
  });

  it('rounds only the extrapolated part, half-up, to the storage scale', () => {
    // 1 in 7 hours, 17 hours left: 1 + 17/7 = 3.428571428571…
    const input = { spent: '1', periodStart: new Date('2026-11-01T00:00:00Z'), periodEnd: new Date('2026-11-02T00:00:00Z') };
    expect(forecastPeriodEnd({ ...input, asOf: new Date('2026-11-01T07:00:00Z') })).toBe('3.428571429');
    expect(FORECAST_SCALE).toBe(9);
    expect(forecastPeriodEnd({ ...input, spent: '0.000000000001', asOf: '2026-11-02T00:00:00Z' })).toBe('0.000000000001');
  });

  it('accepts instants with offsets', () => {
    expect(forecastPeriodEnd({ ...november, spent: '100', asOf: '2026-11-11T01:00:00+01:00' })).toBe('300');
  });

  it('returns the spend itself with no elapsed time to measure a rate or none left', () => {
    expect(forecastPeriodEnd({ ...november, spent: '42', asOf: november.periodStart })).toBe('42');
    expect(forecastPeriodEnd({ ...november, spent: '42', asOf: november.periodEnd })).toBe('42');
    expect(forecastPeriodEnd({ ...november, spent: '42', asOf: '2026-12-03T00:00:00Z' })).toBe('42');
  });

  it.each<[string, Partial<ForecastInput>]>([
    ['asOf before the period', { asOf: '2026-10-31T00:00:00Z' }],
    ['an empty period', { periodEnd: '2026-11-01T00:00:00Z' }],
    ['only lookbackSpent', { lookbackSpent: '10' }],
    ['only lookbackStart', { lookbackStart: '2026-11-01T00:00:00Z' }],
    ['a lookback starting at asOf', { lookbackSpent: '10', lookbackStart: '2026-11-11T00:00:00Z' }],
    ['a rolled-over date', { asOf: '2026-11-31T00:00:00Z' }],
    ['a date without an offset', { asOf: '2026-11-11T00:00:00' }],
    ['an invalid Date', { asOf: new Date(Number.NaN) }],
    ['a spend in exponent notation', { spent: '1e2' }],
  ])('rejects %s', (_, override) => {
    expect(() => forecastPeriodEnd({ ...november, spent: '100', asOf: '2026-11-11T00:00:00Z', ...override })).toThrow(RangeError);
  });
});

describe('forecastState worked examples', () => {
  it('fires on each rise above the budget, not while it stays above', () => {
    let wasAbove = false;
    const fired = ['800', '1200', '1300', '1000', '1100', '1000.000001'].map((projected) => {
      const state = forecastState({ projected, budget: '1000', wasAbove });
      wasAbove = state.above;
      return state.fire;
    });
    // Landing exactly on the budget is not above it.
    expect(fired).toEqual([false, true, false, false, true, false]);
  });
});

describe('budget properties', () => {
  it('places thresholds exactly at budget × percentage / 100, ascending', () => {
    fc.assert(
      fc.property(positive, fc.uniqueArray(amount(300, 3), { maxLength: 5, selector: (p) => new Exact(p).toFixed() }), (budget, raw) => {
        const percentages = [...raw].sort((a, b) => new Exact(a).cmp(b));
        const result = budgetThresholds(budget, percentages);
        expect(result).toEqual(percentages.map((p) => new Exact(budget).times(p).div(100).toFixed()));
      }),
    );
  });

  it('projects a constant rate onto the whole period exactly', () => {
    fc.assert(
      fc.property(amount(1000, 4), fc.integer({ min: 1, max: 24 * 31 }), fc.integer({ min: 0, max: 24 * 31 }), (perHour, elapsed, remaining) => {
        const start = Date.UTC(2026, 0, 1);
        const spent = new Exact(perHour).times(elapsed).toFixed();
        const projected = forecastPeriodEnd({
          spent,
          periodStart: new Date(start),
          asOf: new Date(start + elapsed * HOUR),
          periodEnd: new Date(start + (elapsed + remaining) * HOUR),
        });
        expect(projected).toBe(new Exact(perHour).times(elapsed + remaining).toFixed());
      }),
    );
  });

  it('never projects below what is already spent, and a lookback from the period start changes nothing', () => {
    fc.assert(
      fc.property(amount(100_000), fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 0, max: 1000 }), (spent, elapsed, remaining) => {
        const base = { spent, periodStart: new Date(0), asOf: new Date(elapsed * HOUR), periodEnd: new Date((elapsed + remaining) * HOUR) };
        const projected = forecastPeriodEnd(base);
        expect(new Exact(projected).gte(spent)).toBe(true);
        expect(forecastPeriodEnd({ ...base, lookbackSpent: spent, lookbackStart: base.periodStart })).toBe(projected);
      }),
    );
  });

  it('fires exactly once per rise above the budget over any sequence of projections', () => {
    fc.assert(
      fc.property(positive, fc.array(amount(200_000), { maxLength: 30 }), (budget, projections) => {
        let wasAbove = false;
        let fires = 0;
        let rises = 0;
        for (const projected of projections) {
          const above = new Exact(projected).gt(budget);
          if (above && !wasAbove) rises += 1;
          const state = forecastState({ projected, budget, wasAbove });
          expect(state.above).toBe(above);
          if (state.fire) fires += 1;
          wasAbove = state.above;
        }
        expect(fires).toBe(rises);
      }),
    );
  });
});
