import { describe, expect, it } from 'vitest';
import { priceAmount, type PriceInput, type PriceResult } from './models.js';
import { priceSchema, type Price } from './price-schema.js';
import { roundToMinorUnit } from './rounding.js';

// Every worked example goes through the schema first, as prices do in production.
function price(input: unknown): Price {
  return priceSchema.parse(input);
}

function amountOf(p: Price, input: PriceInput): string {
  return priceAmount(p, input).amount;
}

function usd(result: PriceResult): string {
  return roundToMinorUnit(result.amount, 'USD');
}

describe('unit', () => {
  const p = price({ model: 'unit', unitAmount: '0.0025' });

  it.each([
    ['1000', '2.5', '2.50'],
    ['0', '0', '0.00'],
    ['0.5', '0.00125', '0.00'],
    ['2', '0.005', '0.01'],
    ['123456789.123456789', '308641.9728086419725', '308641.97'],
  ])('quantity %s costs %s (%s USD)', (quantity, exact, cents) => {
    const result = priceAmount(p, { quantity });
    expect(result.amount).toBe(exact);
    expect(usd(result)).toBe(cents);
  });

  it('reports one row', () => {
    expect(priceAmount(p, { quantity: '1000' }).breakdown).toEqual([{ quantity: '1000', unitAmount: '0.0025', amount: '2.5' }]);
  });
});

describe('graduated', () => {
  // The shape of Stripe's documented example.
  const stripe = price({
    model: 'graduated',
    tiers: [
      { upTo: '5', unitAmount: '5.00', flatAmount: '0' },
      { upTo: '10', unitAmount: '4.00' },
      { upTo: null, unitAmount: '3.00' },
    ],
  });

  it('prices each tier separately: 12 units = 5×5 + 5×4 + 2×3', () => {
    const result = priceAmount(stripe, { quantity: '12' });
    expect(result.amount).toBe('51');
    expect(usd(result)).toBe('51.00');
    expect(result.breakdown).toEqual([
      { tier: 0, quantity: '5', unitAmount: '5', flatAmount: '0', amount: '25' },
      { tier: 1, quantity: '5', unitAmount: '4', amount: '20' },
      { tier: 2, quantity: '2', unitAmount: '3', amount: '6' },
    ]);
  });

  it.each([
    ['0', '0'],
    ['0.5', '2.5'],
    ['5', '25'],
    ['5.5', '27'],
    ['10', '45'],
    ['10.25', '45.75'],
  ])('quantity %s costs %s', (quantity, exact) => {
    expect(amountOf(stripe, { quantity })).toBe(exact);
  });

  it('stops at the tier that holds the quantity', () => {
    expect(priceAmount(stripe, { quantity: '5' }).breakdown).toEqual([
      { tier: 0, quantity: '5', unitAmount: '5', flatAmount: '0', amount: '25' },
    ]);
  });

  describe('with flat amounts', () => {
    const p = price({
      model: 'graduated',
      tiers: [
        { upTo: '1000', unitAmount: '0.01', flatAmount: '10' },
        { upTo: null, unitAmount: '0.008', flatAmount: '5' },
      ],
    });

    it('charges the first tier flat amount at quantity 0', () => {
      const result = priceAmount(p, { quantity: '0' });
      expect(result.amount).toBe('10');
      expect(result.breakdown).toEqual([{ tier: 0, quantity: '0', unitAmount: '0.01', flatAmount: '10', amount: '10' }]);
    });

    it.each([
      ['0.5', '10.005', '10.01'],
      ['1000', '20', '20.00'],
      // Just above the bound: the second tier is entered, and its flat amount charged.
      ['1000.000000001', '25.000000000008', '25.00'],
      ['2500', '37', '37.00'],
    ])('quantity %s costs %s (%s USD)', (quantity, exact, cents) => {
      const result = priceAmount(p, { quantity });
      expect(result.amount).toBe(exact);
      expect(usd(result)).toBe(cents);
    });

    it('does not charge the next tier flat amount exactly at upTo', () => {
      expect(priceAmount(p, { quantity: '1000' }).breakdown).toHaveLength(1);
      expect(priceAmount(p, { quantity: '1000.000000001' }).breakdown[1]).toEqual({
        tier: 1,
        quantity: '0.000000001',
        unitAmount: '0.008',
        flatAmount: '5',
        amount: '5.000000000008',
      });
    });
  });

  it('treats a first tier up to 0 as a fee charged at every quantity', () => {
    const p = price({
      model: 'graduated',
      tiers: [
        { upTo: '0', flatAmount: '7' },
        { upTo: null, unitAmount: '2' },
      ],
    });
    expect(amountOf(p, { quantity: '0' })).toBe('7');
    expect(amountOf(p, { quantity: '3' })).toBe('13');
  });
});

describe('volume', () => {
  const stripe = price({
    model: 'volume',
    tiers: [
      { upTo: '5', unitAmount: '5.00', flatAmount: '0' },
      { upTo: '10', unitAmount: '4.00' },
      { upTo: null, unitAmount: '3.00' },
    ],
  });

  it('prices every unit at the rate of the tier holding the total: 12 units = 12×3', () => {
    const result = priceAmount(stripe, { quantity: '12' });
    expect(result.amount).toBe('36');
    expect(result.breakdown).toEqual([{ tier: 2, quantity: '12', unitAmount: '3', amount: '36' }]);
  });

  it.each([
    ['0', '0', 0],
    ['0.5', '2.5', 0],
    ['5', '25', 0],
    ['5.5', '22', 1],
    ['10', '40', 1],
    ['10.000000001', '30.000000003', 2],
  ])('quantity %s costs %s (tier %i)', (quantity, exact, tier) => {
    const result = priceAmount(stripe, { quantity });
    expect(result.amount).toBe(exact);
    expect(result.breakdown[0]?.tier).toBe(tier);
  });

  describe('with flat amounts', () => {
    const p = price({
      model: 'volume',
      tiers: [
        { upTo: '1000', unitAmount: '0.01', flatAmount: '10' },
        { upTo: null, unitAmount: '0.008', flatAmount: '5' },
      ],
    });

    it.each([
      ['0', '10', '10.00'],
      ['0.5', '10.005', '10.01'],
      ['1000', '20', '20.00'],
      ['1000.000000001', '13.000000000008', '13.00'],
    ])('quantity %s costs %s (%s USD)', (quantity, exact, cents) => {
      const result = priceAmount(p, { quantity });
      expect(result.amount).toBe(exact);
      expect(usd(result)).toBe(cents);
    });
  });
});

describe('package', () => {
  const p = price({ model: 'package', packageSize: '100', packageAmount: '5', freeUnits: '50' });

  it.each([
    ['0', '0'],
    ['50', '0'],
    ['50.5', '5'],
    ['51', '5'],
    ['150', '5'],
    ['150.000000001', '10'],
    ['151', '10'],
    ['250', '10'],
    ['251', '15'],
  ])('quantity %s costs %s', (quantity, exact) => {
    expect(amountOf(p, { quantity })).toBe(exact);
  });

  it('reports the package count as the row quantity', () => {
    expect(priceAmount(p, { quantity: '151' }).breakdown).toEqual([{ quantity: '2', unitAmount: '5', amount: '10' }]);
    expect(priceAmount(p, { quantity: '10' }).breakdown).toEqual([{ quantity: '0', unitAmount: '5', amount: '0' }]);
  });

  it('takes fractional package sizes and amounts', () => {
    const small = price({ model: 'package', packageSize: '0.25', packageAmount: '0.10' });
    expect(amountOf(small, { quantity: '1' })).toBe('0.4');
    expect(amountOf(small, { quantity: '1.01' })).toBe('0.5');
  });
});

describe('percentage', () => {
  // A card-fee shape: 2.9% + 0.30 per transaction.
  const base = { model: 'percentage', rate: '2.9', fixedAmount: '0.30' } as const;
  const events = ['100', '50', '10'];

  it('charges each event its share plus the fixed amount', () => {
    const result = priceAmount(price(base), { events });
    expect(result.amount).toBe('5.54');
    expect(result.breakdown).toEqual([
      { quantity: '100', rate: '2.9', flatAmount: '0.3', amount: '3.2' },
      { quantity: '50', rate: '2.9', flatAmount: '0.3', amount: '1.75' },
      { quantity: '10', rate: '2.9', flatAmount: '0.3', amount: '0.59' },
    ]);
  });

  it('charges nothing for no events', () => {
    expect(priceAmount(price(base), { events: [] })).toEqual({ amount: '0', breakdown: [] });
  });

  it('with freeEvents alone, the first events are free whatever their value', () => {
    const result = priceAmount(price({ ...base, freeEvents: '2' }), { events });
    expect(result.amount).toBe('0.59');
    expect(result.breakdown.map((row) => row.amount)).toEqual(['0', '0', '0.59']);
    expect(result.breakdown[0]).toEqual({ quantity: '0', amount: '0' });
  });

  it('with freeAmount alone, an event crossing the free amount pays on the part above it', () => {
    // 100 is free (20 of the allowance left), 30 of the 50 is paid, then 10 is paid in full.
    const result = priceAmount(price({ ...base, freeAmount: '120' }), { events });
    expect(result.amount).toBe('1.76');
    expect(result.breakdown).toEqual([
      { quantity: '0', amount: '0' },
      { quantity: '30', rate: '2.9', flatAmount: '0.3', amount: '1.17' },
      { quantity: '10', rate: '2.9', flatAmount: '0.3', amount: '0.59' },
    ]);
  });

  it('with both, the allowance ends when the event count runs out first', () => {
    // One free event: 100 is free even though only 100 of the 120 free amount was used.
    expect(amountOf(price({ ...base, freeEvents: '1', freeAmount: '120' }), { events })).toBe('2.34');
  });

  it('with both, the allowance ends when the free amount runs out first', () => {
    // 10 is free, 5 of the 25 is paid (0.145 + 0.30), then 40 is paid although three free events remained.
    const result = priceAmount(price({ ...base, freeEvents: '5', freeAmount: '30' }), { events: ['10', '25', '40'] });
    expect(result.amount).toBe('1.905');
    expect(usd(result)).toBe('1.91');
    expect(result.breakdown.map((row) => row.quantity)).toEqual(['0', '5', '40']);
  });

  it('treats a zero limit as no allowance', () => {
    expect(amountOf(price({ ...base, freeEvents: '0' }), { events })).toBe('5.54');
    expect(amountOf(price({ ...base, freeAmount: '0' }), { events })).toBe('5.54');
    expect(amountOf(price({ ...base, freeEvents: '0', freeAmount: '1000' }), { events })).toBe('5.54');
  });

  it('clamps each paid event to [minPerEvent, maxPerEvent]', () => {
    const p = price({ model: 'percentage', rate: '1', minPerEvent: '0.50', maxPerEvent: '5' });
    const result = priceAmount(p, { events: ['10', '200', '1000', '0'] });
    expect(result.amount).toBe('8');
    expect(result.breakdown).toEqual([
      { quantity: '10', rate: '1', clamp: 'min', amount: '0.5' },
      { quantity: '200', rate: '1', amount: '2' },
      { quantity: '1000', rate: '1', clamp: 'max', amount: '5' },
      { quantity: '0', rate: '1', clamp: 'min', amount: '0.5' },
    ]);
  });

  it('charges a fully free event nothing, not the minimum, but clamps a partly free one', () => {
    const p = price({ model: 'percentage', rate: '1', minPerEvent: '0.50', freeAmount: '10' });
    const result = priceAmount(p, { events: ['10', '5'] });
    expect(result.breakdown.map((row) => row.amount)).toEqual(['0', '0.5']);
    const crossing = priceAmount(p, { events: ['12'] });
    expect(crossing.breakdown).toEqual([{ quantity: '2', rate: '1', clamp: 'min', amount: '0.5' }]);
  });

  it('frees zero-value events inside the allowance without using up the free amount', () => {
    const p = price({ model: 'percentage', rate: '10', freeAmount: '5' });
    expect(priceAmount(p, { events: ['0', '0', '6'] }).breakdown.map((row) => row.amount)).toEqual(['0', '0', '0.1']);
  });
});

describe('graduated_percentage', () => {
  const p = price({
    model: 'graduated_percentage',
    tiers: [
      { upTo: '1000', rate: '5', flatAmount: '1' },
      { upTo: '10000', rate: '3' },
      { upTo: null, rate: '1.5', flatAmount: '2' },
    ],
  });

  it.each([
    ['0', '1', '1.00'],
    ['0.5', '1.025', '1.03'],
    ['1000', '51', '51.00'],
    ['1000.000000001', '51.00000000003', '51.00'],
    ['12000', '353', '353.00'],
  ])('amount %s costs %s (%s USD)', (quantity, exact, cents) => {
    const result = priceAmount(p, { quantity });
    expect(result.amount).toBe(exact);
    expect(usd(result)).toBe(cents);
  });

  it('reports a row per entered tier', () => {
    expect(priceAmount(p, { quantity: '12000' }).breakdown).toEqual([
      { tier: 0, quantity: '1000', rate: '5', flatAmount: '1', amount: '51' },
      { tier: 1, quantity: '9000', rate: '3', amount: '270' },
      { tier: 2, quantity: '2000', rate: '1.5', flatAmount: '2', amount: '32' },
    ]);
  });
});

describe('flat', () => {
  const p = price({ model: 'flat', amount: '30' });

  it('charges the whole fee by default', () => {
    expect(priceAmount(p, {})).toEqual({ amount: '30', breakdown: [{ quantity: '1', unitAmount: '30', amount: '30' }] });
  });

  it('prorates by the covered share of the period: 10 of 30 days', () => {
    // 10/30 has no finite decimal expansion; a caller passes it to the precision it computed.
    const tenOfThirty = `0.${'3'.repeat(60)}`;
    const result = priceAmount(p, { fraction: tenOfThirty });
    expect(result.amount).toBe(`9.${'9'.repeat(59)}`);
    expect(usd(result)).toBe('10.00');
    expect(amountOf(p, { fraction: '0.3333' })).toBe('9.999');
  });

  it('rounds the prorated fee to 60 significant digits when the exact product is longer', () => {
    // 900 × 0.333… (60 threes) is 299.9…97 with 61 significant digits.
    expect(amountOf(price({ model: 'flat', amount: '900' }), { fraction: `0.${'3'.repeat(60)}` })).toBe('300');
  });

  it.each([
    ['0', '0'],
    ['0.5', '15'],
    ['1', '30'],
  ])('fraction %s costs %s', (fraction, exact) => {
    expect(amountOf(p, { fraction })).toBe(exact);
  });

  it('rejects a fraction outside [0, 1]', () => {
    expect(() => priceAmount(p, { fraction: '1.5' })).toThrow(RangeError);
    expect(() => priceAmount(p, { fraction: '-0.1' })).toThrow(/must not be negative/);
  });

  it('ignores a quantity', () => {
    expect(amountOf(p, { quantity: '12', fraction: '0.5' })).toBe('15');
  });
});

describe('markup', () => {
  const p = price({ model: 'markup', markupPercent: '20', minimumAmount: '5' });

  it('adds the markup to the cost and reports cost, markup and margin', () => {
    const result = priceAmount(p, { quantity: '100' });
    expect(result).toEqual({
      amount: '120',
      breakdown: [
        { quantity: '100', unitAmount: '1', amount: '100' },
        { quantity: '100', rate: '20', amount: '20' },
      ],
      cost: '100',
      markup: '20',
      // 20 / 120 as a percentage, to 60 significant digits.
      margin: `16.${'6'.repeat(57)}7`,
    });
  });

  it('raises the charge to the minimum with a top-up row', () => {
    const result = priceAmount(p, { quantity: '2' });
    expect(result).toEqual({
      amount: '5',
      breakdown: [
        { quantity: '2', unitAmount: '1', amount: '2' },
        { quantity: '2', rate: '20', amount: '0.4' },
        { quantity: '0', flatAmount: '2.6', amount: '2.6' },
      ],
      cost: '2',
      markup: '3',
      margin: '60',
    });
  });

  it('charges the minimum at zero cost', () => {
    expect(priceAmount(p, { quantity: '0' })).toMatchObject({ amount: '5', cost: '0', markup: '5', margin: '100' });
  });

  it('reports a zero margin when nothing is charged', () => {
    const free = price({ model: 'markup', markupPercent: '35' });
    expect(priceAmount(free, { quantity: '0' })).toMatchObject({ amount: '0', cost: '0', markup: '0', margin: '0' });
  });

  it('takes markups above 100%', () => {
    expect(priceAmount(price({ model: 'markup', markupPercent: '250' }), { quantity: '4.2' })).toMatchObject({
      amount: '14.7',
      markup: '10.5',
    });
  });
});

describe('inputs', () => {
  const unit = price({ model: 'unit', unitAmount: '1' });

  it.each([['1e3'], ['.5'], ['1.'], [''], [' 1'], ['NaN'], ['Infinity']])('rejects quantity %j', (quantity) => {
    expect(() => priceAmount(unit, { quantity })).toThrow(RangeError);
  });

  it('prices a negative quantity with a unit price as a credit', () => {
    expect(priceAmount(price({ model: 'unit', unitAmount: '0.25' }), { quantity: '-3' })).toEqual({
      amount: '-0.75',
      breakdown: [{ quantity: '-3', unitAmount: '0.25', amount: '-0.75' }],
    });
  });

  it('prices a negative cost with a markup price as a credit, still raised to its minimum', () => {
    expect(priceAmount(price({ model: 'markup', markupPercent: '10' }), { quantity: '-200' })).toMatchObject({
      amount: '-220',
      cost: '-200',
      markup: '-20',
    });
    expect(priceAmount(price({ model: 'markup', markupPercent: '10', minimumAmount: '5' }), { quantity: '-200' }).amount).toBe('5');
  });

  it.each([
    ['graduated', { model: 'graduated', tiers: [{ upTo: null, unitAmount: '1' }] }],
    ['volume', { model: 'volume', tiers: [{ upTo: null, unitAmount: '1' }] }],
    ['package', { model: 'package', packageSize: '10', packageAmount: '1' }],
    ['graduated_percentage', { model: 'graduated_percentage', tiers: [{ upTo: null, rate: '1' }] }],
  ])('refuses a negative quantity with a %s price, naming the rule', (model, body) => {
    expect(() => priceAmount(price(body as Price), { quantity: '-0.000000001' })).toThrow(
      `quantity must not be negative for a ${model} price (only unit and markup prices take credits), got "-0.000000001"`,
    );
  });

  it('says why a quantity was rejected', () => {
    expect(() => priceAmount(unit, { quantity: '3e2' })).toThrow('quantity must be a decimal string such as "12.5", got "3e2"');
    expect(() => priceAmount(unit, {})).toThrow('a unit price needs a quantity');
  });

  it('rejects a JS number passed where a decimal string belongs', () => {
    // Deliberately breaks the type to stand in for a caller outside TypeScript's reach.
    const input = { quantity: 3 } as unknown as PriceInput;
    expect(() => priceAmount(unit, input)).toThrow('quantity must be a decimal string, got number');
  });

  it('rejects negative and malformed event values, naming the event', () => {
    const p = price({ model: 'percentage', rate: '1' });
    expect(() => priceAmount(p, { events: ['1', '-2'] })).toThrow('events[1] must not be negative');
    expect(() => priceAmount(p, { events: ['1', 'x'] })).toThrow(/events\[1\] must be a decimal string/);
    expect(() => priceAmount(p, { quantity: '1' })).toThrow('a percentage price needs events');
  });

  it('accepts negative zero as zero', () => {
    expect(priceAmount(unit, { quantity: '-0' })).toEqual({ amount: '0', breakdown: [{ quantity: '0', unitAmount: '1', amount: '0' }] });
  });

  it('throws rather than round an amount that needs more than 60 significant digits', () => {
    const fine = price({ model: 'unit', unitAmount: '1.2345678901234567890123456789' });
    expect(() => priceAmount(fine, { quantity: '99999999999999999999999999999.999999999' })).toThrow(/more than 60 significant digits/);
  });

  it('refuses prices that skipped the schema where the result would be wrong', () => {
    const unbounded = { model: 'graduated', tiers: [{ upTo: '10', unitAmount: '1' }] } as const;
    expect(() => priceAmount(unbounded as unknown as Price, { quantity: '11' })).toThrow(/above the last tier/);
    const unordered = { model: 'graduated', tiers: [{ upTo: '10' }, { upTo: '5' }, { upTo: null }] } as const;
    expect(() => priceAmount(unordered as unknown as Price, { quantity: '11' })).toThrow(/must be above/);
    const zeroSize = { model: 'package', packageSize: '0', packageAmount: '1' } as const;
    expect(() => priceAmount(zeroSize as Price, { quantity: '1' })).toThrow('packageSize must be greater than 0');
    const negative = { model: 'unit', unitAmount: '-1' } as const;
    expect(() => priceAmount(negative as Price, { quantity: '1' })).toThrow('unitAmount must not be negative');
    const unknown = { model: 'tiered' } as unknown as Price;
    expect(() => priceAmount(unknown, { quantity: '1' })).toThrow('unknown price model "tiered"');
  });
});
