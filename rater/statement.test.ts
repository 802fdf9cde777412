import { describe, expect, it } from 'vitest';
import { buildStatement, type StatementInput } from './statement.js';

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
