import { describe, expect, it } from 'vitest';
import { buildStatement, forecastSubtotal, unpricedSpans, type StatementInput } from './statement.js';

const nov1 = new Date('2026-11-01T00:00:00Z');
const nov16 = new Date('2026-11-16T00:00:00Z');
const dec1 = new Date('2026-12-01T00:00:00Z');

const WORKED: StatementInput = {
  currency: 'USD',
  charges: [
    {
      key: 'devices',
      category: 'Endpoints',
      segments: [
        { from: nov1, to: nov16, priceVersion: 1, price: { model: 'unit', unitAmount: '4.50' }, quantity: '5' },
        { from: nov16, to: dec1, priceVersion: 2, price: { model: 'unit', unitAmount: '5.00' }, quantity: '8' },
      ],
    },
    {
      key: 'storage',
      category: 'Backup',
      segments: [
        {
          from: nov1,
          to: dec1,
          priceVersion: 1,
          price: { model: 'graduated', tiers: [{ upTo: '100', unitAmount: '0' }, { upTo: null, unitAmount: '0.08' }] },
          quantity: '350',
        },
      ],
    },
    { key: 'platform', category: 'Platform', segments: [{ from: nov1, to: dec1, priceVersion: 1, price: { model: 'flat', amount: '99' }, quantity: '1' }] },
  ],
  discounts: [{ chargeKey: 'devices', percent: '10', shareByCharge: { devices: '0.25' } }],
  taxRates: [
    { name: 'State', percent: '6' },
    { name: 'County', percent: '1.5' },
  ],
  minimumCommitment: '500',
  coveredFraction: '1',
};

describe('buildStatement', () => {
  it('matches a statement worked out by hand, line by line', () => {
    const statement = buildStatement(WORKED);
    const lines = Object.fromEntries(statement.lines.map((line) => [line.charge, line]));
    // devices: 5 × 4.50 + 8 × 5.00 = 62.50; 10 % off a quarter of it = 1.5625.
    expect(lines.devices).toMatchObject({ quantity: '13', grossAmount: '62.5', discount: '1.5625', preciseAmount: '60.9375', amount: '60.94' });
    expect(lines.devices?.parts.map((part) => [part.priceVersion, part.amount])).toEqual([
      [1, '22.5'],
      [2, '40'],
    ]);
    expect(lines.devices?.taxes).toEqual([
      { name: 'State', percent: '6', preciseAmount: '3.65625', amount: '3.66' },
      { name: 'County', percent: '1.5', preciseAmount: '0.9140625', amount: '0.91' },
    ]);
    // storage: the first 100 GB free, 250 × 0.08.
    expect(lines.storage).toMatchObject({ amount: '20.00', discount: '0' });
    expect(lines.platform).toMatchObject({ amount: '99.00' });
    // commitment: 500 − (60.9375 + 20 + 99) = 320.0625.
    expect(lines['minimum-commitment']).toMatchObject({ preciseAmount: '320.0625', amount: '320.06' });
    expect(lines['minimum-commitment']?.taxes.map((tax) => tax.amount)).toEqual(['19.20', '4.80']);
    expect(statement).toMatchObject({ subtotal: '500.00', tax: '37.50', total: '537.50' });
  });

  it('adds no true-up when the charges exceed the commitment, and prorates it by coverage', () => {
    expect(buildStatement({ ...WORKED, minimumCommitment: '100' }).lines.map((line) => line.charge)).not.toContain('minimum-commitment');
    const half = buildStatement({ ...WORKED, minimumCommitment: '500', coveredFraction: '0.5' });
    expect(half.lines.find((line) => line.charge === 'minimum-commitment')?.preciseAmount).toBe('70.0625');
  });

  it('never discounts a line below zero', () => {
    const statement = buildStatement({
      ...WORKED,
      minimumCommitment: undefined,
      discounts: [{ chargeKey: 'storage', amount: '1000', shareByCharge: { storage: '1' } }],
    });
    expect(statement.lines.find((line) => line.charge === 'storage')).toMatchObject({ discount: '20', amount: '0.00' });
  });

  it('keeps a credit line whole: an amount discount takes nothing from it, taxes are credited too', () => {
    const statement = buildStatement({
      currency: 'USD',
      charges: [{ key: 'cost', segments: [{ from: nov1, to: dec1, priceVersion: 1, price: { model: 'unit', unitAmount: '1' }, quantity: '-40' }] }],
      discounts: [{ amount: '15', shareByCharge: { cost: '1' } }],
      taxRates: [{ name: 'VAT', percent: '10' }],
      coveredFraction: '1',
    });
    expect(statement.lines[0]).toMatchObject({ quantity: '-40', grossAmount: '-40', discount: '0', amount: '-40.00' });
    expect(statement).toMatchObject({ subtotal: '-40.00', tax: '-4.00', total: '-44.00' });
  });

  it('rounds to the currency: JPY has no minor unit, BHD three digits', () => {
    const one = (currency: string, unitAmount: string) =>
      buildStatement({
        currency,
        charges: [{ key: 'x', segments: [{ from: nov1, to: dec1, priceVersion: 1, price: { model: 'unit', unitAmount }, quantity: '3' }] }],
        discounts: [],
        taxRates: [],
        coveredFraction: '1',
      });
    expect(one('JPY', '0.5').total).toBe('2');
    expect(one('BHD', '0.3335').total).toBe('1.001');
  });

  it('prices percentage charges over their events', () => {
    const statement = buildStatement({
      currency: 'USD',
      charges: [
        {
          key: 'payments',
          segments: [{ from: nov1, to: dec1, priceVersion: 1, price: { model: 'percentage', rate: '2.9', fixedAmount: '0.30' }, events: ['100', '50'] }],
        },
      ],
      discounts: [],
      taxRates: [],
      coveredFraction: '1',
    });
    expect(statement.lines[0]).toMatchObject({ quantity: '150', preciseAmount: '4.95', amount: '4.95' });
  });
});

describe('unpricedSpans', () => {
  const day = (n: number) => Date.UTC(2026, 10, n);
  const period = { from: day(1), to: Date.UTC(2026, 11, 1) };

  it('leaves nothing unpriced when a charge covers the whole contract and the contract the whole period', () => {
    expect(unpricedSpans(period, { from: day(1), to: Number.POSITIVE_INFINITY }, [period])).toEqual([]);
  });

  it('counts all of the period as outside any contract when there is none', () => {
    expect(unpricedSpans(period, undefined, [])).toEqual([{ ...period, reason: 'no_contract' }]);
  });

  it('tells the part before the contract from the part inside it that no version prices', () => {
    // Contract from the 5th, ending on the 25th; a charge on the meter only from the 16th (a later version added it).
    expect(unpricedSpans(period, { from: day(5), to: day(25) }, [{ from: day(16), to: day(25) }])).toEqual([
      { from: day(1), to: day(5), reason: 'no_contract' },
      { from: day(5), to: day(16), reason: 'no_price' },
      { from: day(25), to: period.to, reason: 'no_contract' },
    ]);
  });

  it('finds the gap between two priced spans, and a meter no version prices at all', () => {
    expect(unpricedSpans(period, { from: 0, to: Number.POSITIVE_INFINITY }, [{ from: day(1), to: day(10) }, { from: day(20), to: period.to }])).toEqual([
      { from: day(10), to: day(20), reason: 'no_price' },
    ]);
    expect(unpricedSpans(period, { from: 0, to: Number.POSITIVE_INFINITY }, [])).toEqual([{ ...period, reason: 'no_price' }]);
  });

  it('shows a contract that ended before the period as no contract', () => {
    expect(unpricedSpans(period, { from: 0, to: day(1) }, [])).toEqual([{ ...period, reason: 'no_contract' }]);
  });
});

describe('forecastSubtotal', () => {
  const statement = buildStatement({
    currency: 'USD',
    charges: [
      { key: 'calls', segments: [{ from: nov1, to: dec1, priceVersion: 1, price: { model: 'unit', unitAmount: '0.0333' }, quantity: '1000' }] },
      { key: 'platform', segments: [{ from: nov1, to: dec1, priceVersion: 1, price: { model: 'flat', amount: '49' }, quantity: '1' }] },
    ],
    discounts: [],
    taxRates: [],
    coveredFraction: '1',
  });

  it('gives the projection rounded to the minor unit and precisely, scaling usage and not fixed fees', () => {
    // 33.3 × 30/7 = 142.714285714285… + 49.
    const forecast = forecastSubtotal({ currency: 'USD', lines: statement.lines, fixedCharges: new Set(['platform']), scale: '4.285714285714285714285714285714', floor: '0' });
    expect(forecast).toEqual({ subtotal: '191.71', preciseSubtotal: '191.714285714' });
  });

  it('never projects under the commitment, and rounds in the currency', () => {
    expect(forecastSubtotal({ currency: 'USD', lines: statement.lines, fixedCharges: new Set(['platform']), scale: '1', floor: '500' })).toEqual({
      subtotal: '500.00',
      preciseSubtotal: '500',
    });
    const yen = forecastSubtotal({ currency: 'JPY', lines: statement.lines, fixedCharges: new Set(['platform']), scale: '2', floor: '0' });
    expect(yen).toEqual({ subtotal: '116', preciseSubtotal: '115.6' });
  });
});
