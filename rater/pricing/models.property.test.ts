import { Decimal } from 'decimal.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { priceAmount, type BreakdownRow, type PriceInput, type PriceResult } from './models.js';
import { priceSchema, type Price, type Tier } from './price-schema.js';

// The tests' own oracle, configured apart from the module and wide enough for every value below.
const Exact = Decimal.clone({ precision: 400, toExpNeg: -1000, toExpPos: 1000 });
const CANONICAL = /^(0|[1-9]\d*)(\.\d*[1-9])?$/;

/** A non-negative decimal string with up to `maxDigits` digits, `maxScale` of them after the point. */
function decimalText(maxDigits: number, maxScale: number): fc.Arbitrary<string> {
  return fc
    .tuple(fc.bigInt({ min: 0n, max: 10n ** BigInt(maxDigits) - 1n }), fc.integer({ min: 0, max: maxScale }))
    .map(([digits, scale]) => new Exact(digits.toString()).div(new Exact(10).pow(scale)).toFixed());
}

const quantity = decimalText(15, 9);
const amount = decimalText(8, 4);
const positive = amount.filter((text) => new Exact(text).gt(0));
const percent = fc.bigInt({ min: 0n, max: 100_000n }).map((digits) => new Exact(digits.toString()).div(1000).toFixed());
const fraction = fc
  .tuple(fc.integer({ min: 1, max: 12 }), fc.bigInt({ min: 0n, max: 10n ** 12n }))
  .map(([scale, digits]) => Exact.min(1, new Exact(digits.toString()).div(new Exact(10).pow(scale))).toFixed());

/** Strictly ascending bounds for every tier but the last, which is unbounded. */
const bounds = fc
  .array(decimalText(6, 3).filter((text) => new Exact(text).gt(0)), { minLength: 0, maxLength: 5 })
  .map((steps) => {
    let total = new Exact(0);
    const upTos: Array<string | null> = steps.map((step) => (total = total.plus(step)).toFixed());
    // A first bound of 0 (a fee-only first tier) is legal and worth covering.
    return [...upTos, null];
  });
const firstBoundZero = fc.boolean();

const unitTiers: fc.Arbitrary<Tier[]> = fc.tuple(bounds, firstBoundZero).chain(([upTos, zeroFirst]) =>
  fc.tuple(
    ...(zeroFirst && upTos.length > 1 ? ['0', ...upTos] : upTos).map((upTo) =>
      fc.record({ unitAmount: amount, flatAmount: amount }, { requiredKeys: [] }).map((prices) => ({ upTo, ...prices })),
    ),
  ),
);
const percentTiers = bounds.chain((upTos) =>
  fc.tuple(
    ...upTos.map((upTo) =>
      fc.record({ rate: percent, flatAmount: amount }, { requiredKeys: ['rate'] }).map((prices) => ({ upTo, ...prices })),
    ),
  ),
);

const percentagePrice = fc
  .record(
    {
      rate: percent,
      fixedAmount: amount,
      freeEvents: fc.integer({ min: 0, max: 6 }).map(String),
      freeAmount: amount,
      limits: fc.tuple(amount, amount),
    },
    { requiredKeys: ['rate'] },
  )
  .chain(({ limits, ...rest }) =>
    fc.constantFrom<'none' | 'min' | 'max' | 'both'>('none', 'min', 'max', 'both').map((clamp) => {
      const [low, high] = limits === undefined ? ['0', '0'] : [...limits].sort((a, b) => new Exact(a).cmp(b));
      return {
        model: 'percentage' as const,
        ...rest,
        ...(clamp === 'min' || clamp === 'both' ? { minPerEvent: low } : {}),
        ...(clamp === 'max' || clamp === 'both' ? { maxPerEvent: high } : {}),
      };
    }),
  );

const anyPrice: fc.Arbitrary<Price> = fc
  .oneof(
    fc.record({ model: fc.constant('unit' as const), unitAmount: amount }),
    fc.record({ model: fc.constant('graduated' as const), tiers: unitTiers }),
    fc.record({ model: fc.constant('volume' as const), tiers: unitTiers }),
    fc.record(
      { model: fc.constant('package' as const), packageSize: positive, packageAmount: amount, freeUnits: amount },
      { requiredKeys: ['model', 'packageSize', 'packageAmount'] },
    ),
    percentagePrice,
    fc.record({ model: fc.constant('graduated_percentage' as const), tiers: percentTiers }),
    fc.record({ model: fc.constant('flat' as const), amount }),
    fc.record(
      { model: fc.constant('markup' as const), markupPercent: decimalText(6, 3), minimumAmount: amount },
      { requiredKeys: ['model', 'markupPercent'] },
    ),
  )
  // Every generated price must be one the schema accepts, as in production.
  .map((price) => priceSchema.parse(price));

const anyInput: fc.Arbitrary<PriceInput> = fc.record({
  quantity,
  events: fc.array(amount, { maxLength: 12 }),
  fraction,
});

const sumOf = (values: readonly string[]) => values.reduce((total, value) => total.plus(value), new Exact(0));

/** What a row's own fields say its amount is (before any clamp). */
function rowFormula(row: BreakdownRow): Decimal {
  const q = new Exact(row.quantity);
  return q
    .times(row.unitAmount ?? '0')
    .plus(q.times(row.rate ?? '0').div(100))
    .plus(row.flatAmount ?? '0');
}

function decimalsOf(result: PriceResult): string[] {
  const optional = [result.cost, result.markup, result.margin].filter((value) => value !== undefined);
  const rows = result.breakdown.flatMap((row) =>
    [row.quantity, row.unitAmount, row.rate, row.flatAmount, row.amount].filter((value) => value !== undefined),
  );
  return [result.amount, ...optional, ...rows];
}

function numbersOutsideTier(value: unknown, key = ''): string[] {
  if (typeof value === 'number') return key === 'tier' ? [] : [key];
  if (Array.isArray(value)) return value.flatMap((item, index) => numbersOutsideTier(item, `${key}[${index}]`));
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value).flatMap(([name, item]) =>
      name === 'tier' ? (Number.isInteger(item) ? [] : [`${key}.tier`]) : numbersOutsideTier(item, name),
    );
  }
  return [];
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    Object.values(value).forEach(deepFreeze);
    Object.freeze(value);
  }
  return value;
}

describe('every model (properties)', () => {
  it('has a breakdown that sums exactly to the amount', () => {
    fc.assert(
      fc.property(anyPrice, anyInput, (price, input) => {
        const result = priceAmount(price, input);
        expect(sumOf(result.breakdown.map((row) => row.amount)).eq(result.amount)).toBe(true);
      }),
    );
  });

  it('has rows whose amounts follow from their own fields, or from the clamp they name', () => {
    fc.assert(
      fc.property(anyPrice, anyInput, (price, input) => {
        for (const row of priceAmount(price, input).breakdown) {
          const formula = rowFormula(row);
          if (row.clamp === undefined) {
            expect(formula.eq(row.amount)).toBe(true);
            continue;
          }
          if (price.model !== 'percentage') throw new Error(`clamp on a ${price.model} row`);
          if (row.clamp === 'min') {
            expect(row.amount).toBe(new Exact(price.minPerEvent ?? 'NaN').toFixed());
            expect(formula.lt(row.amount)).toBe(true);
          } else {
            expect(row.amount).toBe(new Exact(price.maxPerEvent ?? 'NaN').toFixed());
            expect(formula.gt(row.amount)).toBe(true);
          }
        }
      }),
    );
  });

  it('never charges a negative amount', () => {
    fc.assert(
      fc.property(anyPrice, anyInput, (price, input) => {
        const result = priceAmount(price, input);
        expect(new Exact(result.amount).gte(0)).toBe(true);
        for (const row of result.breakdown) expect(new Exact(row.amount).gte(0)).toBe(true);
      }),
    );
  });

  it('puts no JS number anywhere in a result but tier indexes', () => {
    fc.assert(
      fc.property(anyPrice, anyInput, (price, input) => {
        expect(numbersOutsideTier(priceAmount(price, input))).toEqual([]);
      }),
    );
  });

  it('writes every decimal in canonical plain form', () => {
    fc.assert(
      fc.property(anyPrice, anyInput, (price, input) => {
        for (const text of decimalsOf(priceAmount(price, input))) expect(text).toMatch(CANONICAL);
      }),
    );
  });

  it('is pure: the same result twice, and neither argument changed', () => {
    fc.assert(
      fc.property(anyPrice, anyInput, (price, input) => {
        const frozenPrice = deepFreeze(structuredClone(price));
        const frozenInput = deepFreeze(structuredClone(input));
        expect(priceAmount(frozenPrice, frozenInput)).toEqual(priceAmount(price, input));
        expect(frozenPrice).toEqual(price);
      }),
    );
  });
});

describe('tiered models (properties)', () => {
  const graduated = unitTiers.map((tiers) => priceSchema.parse({ model: 'graduated', tiers }));
  const graduatedPercentage = percentTiers.map((tiers) => priceSchema.parse({ model: 'graduated_percentage', tiers }));

  it.each([
    ['graduated', graduated],
    ['graduated_percentage', graduatedPercentage],
  ] as const)('%s is non-decreasing in quantity', (_model, prices) => {
    fc.assert(
      fc.property(prices, quantity, quantity, (price, a, b) => {
        const [low, high] = new Exact(a).lte(b) ? [a, b] : [b, a];
        const lowAmount = priceAmount(price, { quantity: low }).amount;
        const highAmount = priceAmount(price, { quantity: high }).amount;
        expect(new Exact(lowAmount).lte(highAmount)).toBe(true);
      }),
    );
  });

  // Quantities at, just below and just above each bound, where off-by-one-tier mistakes live.
  const tiersWithQuantity = unitTiers.chain((tiers) => {
    const nearBounds = tiers.flatMap((tier) => {
      if (tier.upTo === null) return [];
      const bound = new Exact(tier.upTo);
      return [bound, bound.plus('0.000000001'), Exact.max(0, bound.minus('0.000000001'))].map((value) => value.toFixed());
    });
    return fc.tuple(fc.constant(tiers), nearBounds.length === 0 ? quantity : fc.oneof(quantity, fc.constantFrom(...nearBounds)));
  });

  it('graduated matches a tier-by-tier oracle', () => {
    fc.assert(
      fc.property(tiersWithQuantity, ([tiers, q]) => {
        const price = priceSchema.parse({ model: 'graduated', tiers });
        let expected = new Exact(0);
        let lower = new Exact(0);
        tiers.forEach((tier, index) => {
          const upper = tier.upTo === null ? null : new Exact(tier.upTo);
          if (index === 0 || new Exact(q).gt(lower)) {
            const top = upper === null ? new Exact(q) : Exact.min(q, upper);
            expected = expected.plus(Exact.max(0, top.minus(lower)).times(tier.unitAmount ?? '0')).plus(tier.flatAmount ?? '0');
          }
          if (upper !== null) lower = upper;
        });
        expect(priceAmount(price, { quantity: q }).amount).toBe(expected.toFixed());
      }),
    );
  });

  it('volume equals graduated when there is one tier', () => {
    const oneTier = fc
      .record({ unitAmount: amount, flatAmount: amount }, { requiredKeys: [] })
      .map((prices) => [{ upTo: null, ...prices }]);
    fc.assert(
      fc.property(oneTier, quantity, (tiers, q) => {
        const volume = priceAmount(priceSchema.parse({ model: 'volume', tiers }), { quantity: q });
        const graduatedResult = priceAmount(priceSchema.parse({ model: 'graduated', tiers }), { quantity: q });
        expect(volume).toEqual(graduatedResult);
      }),
    );
  });

  it('volume prices the whole quantity in the tier that holds it', () => {
    fc.assert(
      fc.property(tiersWithQuantity, ([tiers, q]) => {
        const result = priceAmount(priceSchema.parse({ model: 'volume', tiers }), { quantity: q });
        const index = tiers.findIndex((tier) => tier.upTo === null || new Exact(q).lte(tier.upTo));
        const tier = tiers[index];
        if (tier === undefined) throw new Error('the schema guarantees an unbounded last tier');
        const expected = new Exact(q).times(tier.unitAmount ?? '0').plus(tier.flatAmount ?? '0');
        expect(result.amount).toBe(expected.toFixed());
        expect(result.breakdown.map((row) => row.tier)).toEqual([index]);
      }),
    );
  });
});

describe('package (properties)', () => {
  const packagePrice = fc
    .record(
      { packageSize: positive, packageAmount: amount, freeUnits: amount },
      { requiredKeys: ['packageSize', 'packageAmount'] },
    )
    .map((fields) => priceSchema.parse({ model: 'package', ...fields }));
  const charge = (price: Price, q: Decimal) => new Exact(priceAmount(price, { quantity: q.toFixed() }).amount);

  it('is a step function: constant after each multiple of packageSize, jumping by packageAmount just past it', () => {
    fc.assert(
      fc.property(packagePrice, fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 1, max: 1000 }), (price, steps, share) => {
        if (price.model !== 'package') throw new Error('generated a package price');
        const size = new Exact(price.packageSize);
        const perPackage = new Exact(price.packageAmount);
        const boundary = new Exact(price.freeUnits ?? '0').plus(size.times(steps));
        // A point strictly inside (boundary, boundary + size], and the smallest step past the boundary.
        const inside = boundary.plus(size.times(share).div(1000));
        const justPast = boundary.plus('0.000000001');

        expect(charge(price, boundary).eq(perPackage.times(steps))).toBe(true);
        expect(charge(price, inside).eq(perPackage.times(steps + 1))).toBe(true);
        expect(charge(price, boundary.plus(size)).eq(perPackage.times(steps + 1))).toBe(true);
        if (justPast.lte(boundary.plus(size))) {
          expect(charge(price, justPast).minus(charge(price, boundary)).eq(perPackage)).toBe(true);
        }
      }),
    );
  });

  it('charges nothing up to the free units', () => {
    fc.assert(
      fc.property(packagePrice, fc.integer({ min: 0, max: 1000 }), (price, share) => {
        if (price.model !== 'package') throw new Error('generated a package price');
        const free = new Exact(price.freeUnits ?? '0');
        expect(charge(price, free.times(share).div(1000)).isZero()).toBe(true);
      }),
    );
  });
});

describe('percentage (properties)', () => {
  const events = fc.array(amount, { maxLength: 12 });
  const price = percentagePrice.map((fields) => priceSchema.parse(fields));

  it('without allowance or clamps, charges Σ value × rate / 100 + events × fixedAmount', () => {
    fc.assert(
      fc.property(percent, fc.option(amount, { nil: undefined }), events, (rate, fixedAmount, values) => {
        const p = priceSchema.parse({ model: 'percentage', rate, ...(fixedAmount === undefined ? {} : { fixedAmount }) });
        const expected = sumOf(values)
          .times(rate)
          .div(100)
          .plus(new Exact(fixedAmount ?? '0').times(values.length));
        expect(priceAmount(p, { events: values }).amount).toBe(expected.toFixed());
      }),
    );
  });

  it('matches an oracle that reads the allowance off running totals', () => {
    fc.assert(
      fc.property(price, events, (p, values) => {
        if (p.model !== 'percentage') throw new Error('generated a percentage price');
        let before = new Exact(0);
        const expected = values.map((value, index) => {
          const valueBefore = before;
          before = before.plus(value);
          const inAllowance =
            (p.freeEvents !== undefined || p.freeAmount !== undefined) &&
            (p.freeEvents === undefined || new Exact(index).lt(p.freeEvents)) &&
            (p.freeAmount === undefined || valueBefore.lt(p.freeAmount));
          let paid = new Exact(value);
          if (inAllowance) {
            paid = p.freeAmount === undefined ? new Exact(0) : Exact.max(0, valueBefore.plus(value).minus(p.freeAmount));
            if (paid.isZero()) return new Exact(0);
          }
          let cost = paid.times(p.rate).div(100).plus(p.fixedAmount ?? '0');
          if (p.minPerEvent !== undefined) cost = Exact.max(cost, p.minPerEvent);
          if (p.maxPerEvent !== undefined) cost = Exact.min(cost, p.maxPerEvent);
          return cost;
        });
        const result = priceAmount(p, { events: values });
        expect(result.breakdown.map((row) => row.amount)).toEqual(expected.map((cost) => cost.toFixed()));
        expect(result.amount).toBe(expected.reduce((total, cost) => total.plus(cost), new Exact(0)).toFixed());
      }),
    );
  });

  it('a free allowance never raises the charge, for the whole list or any event', () => {
    fc.assert(
      fc.property(price, events, (p, values) => {
        if (p.model !== 'percentage') throw new Error('generated a percentage price');
        const { freeEvents: _events, freeAmount: _amount, ...withoutAllowance } = p;
        const withFree = priceAmount(p, { events: values });
        const without = priceAmount(withoutAllowance, { events: values });
        expect(new Exact(withFree.amount).lte(without.amount)).toBe(true);
        withFree.breakdown.forEach((row, index) => {
          expect(new Exact(row.amount).lte(without.breakdown[index]?.amount ?? 'NaN')).toBe(true);
        });
      }),
    );
  });

  it('frees at most freeAmount of value and at most freeEvents events', () => {
    fc.assert(
      fc.property(price, events, (p, values) => {
        if (p.model !== 'percentage') throw new Error('generated a percentage price');
        const rows = priceAmount(p, { events: values }).breakdown;
        expect(rows).toHaveLength(values.length);
        const freed = sumOf(values).minus(sumOf(rows.map((row) => row.quantity)));
        if (p.freeAmount !== undefined) expect(freed.lte(p.freeAmount)).toBe(true);
        if (p.freeAmount === undefined && p.freeEvents === undefined) expect(freed.isZero()).toBe(true);
        const touched = values.filter((value, index) => !new Exact(value).eq(rows[index]?.quantity ?? 'NaN')).length;
        if (p.freeEvents !== undefined) expect(new Exact(touched).lte(p.freeEvents)).toBe(true);
      }),
    );
  });
});

describe('flat and markup (properties)', () => {
  it('flat charges amount × fraction', () => {
    fc.assert(
      fc.property(amount, fraction, (fee, share) => {
        const result = priceAmount(priceSchema.parse({ model: 'flat', amount: fee }), { fraction: share });
        expect(result.amount).toBe(new Exact(fee).times(share).toFixed());
      }),
    );
  });

  it('markup charges max(cost × (1 + markupPercent / 100), minimumAmount) and reports consistent figures', () => {
    fc.assert(
      fc.property(quantity, decimalText(6, 3), fc.option(amount, { nil: undefined }), (cost, markupPercent, minimumAmount) => {
        const p = priceSchema.parse({ model: 'markup', markupPercent, ...(minimumAmount === undefined ? {} : { minimumAmount }) });
        const result = priceAmount(p, { quantity: cost });
        const marked = new Exact(cost).times(new Exact(markupPercent).div(100).plus(1));
        expect(result.amount).toBe(Exact.max(marked, minimumAmount ?? '0').toFixed());
        expect(result.cost).toBe(new Exact(cost).toFixed());
        expect(new Exact(result.cost ?? 'NaN').plus(result.markup ?? 'NaN').eq(result.amount)).toBe(true);
        const charge = new Exact(result.amount);
        const margin = new Exact(result.margin ?? 'NaN');
        if (charge.isZero()) expect(margin.isZero()).toBe(true);
        // The margin is rounded to 60 significant digits; it must agree to well within that.
        else expect(margin.minus(new Exact(result.markup ?? 'NaN').times(100).div(charge)).abs().lte(margin.abs().times('1e-58'))).toBe(true);
      }),
    );
  });
});

describe('negative quantities (properties)', () => {
  const negated = quantity.filter((text) => !new Exact(text).isZero()).map((text) => `-${text}`);

  it('unit and markup without a minimum price a credit as the exact negation of the same usage', () => {
    const linear = fc.oneof(
      fc.record({ model: fc.constant('unit' as const), unitAmount: amount }),
      fc.record({ model: fc.constant('markup' as const), markupPercent: decimalText(6, 3) }),
    );
    fc.assert(
      fc.property(linear.map((price) => priceSchema.parse(price)), negated, (price, credit) => {
        const charged = priceAmount(price, { quantity: credit.slice(1) });
        const credited = priceAmount(price, { quantity: credit });
        expect(new Exact(credited.amount).eq(new Exact(charged.amount).neg())).toBe(true);
        expect(credited.breakdown.reduce((total, row) => total.plus(row.amount), new Exact(0)).eq(credited.amount)).toBe(true);
      }),
    );
  });

  it('every other model that reads a quantity refuses a negative one instead of guessing', () => {
    const others = anyPrice.filter((price) => !['unit', 'markup', 'flat', 'percentage'].includes(price.model));
    fc.assert(
      fc.property(others, negated, (price, credit) => {
        expect(() => priceAmount(price, { quantity: credit })).toThrow(/must not be negative/);
      }),
    );
  });
});
