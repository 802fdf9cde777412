import { describe, expect, it } from 'vitest';
import type { Charges } from './charges.js';
import { figureOf, parseStatement, RatedChargesReadError, rowOf, snapshotOf } from './rated-charges.js';
import type { ChargesView } from './schemas.js';
import { buildStatement } from './statement.js';

const nov1 = new Date('2026-11-01T00:00:00Z');
const dec1 = new Date('2026-12-01T00:00:00Z');

const statement = buildStatement({
  currency: 'USD',
  charges: [
    {
      key: 'devices',
      category: 'Endpoints',
      segments: [{ from: nov1, to: dec1, priceVersion: 1, price: { model: 'unit', unitAmount: '4.50' }, quantity: '7' }],
    },
    {
      key: 'storage',
      segments: [
        {
          from: nov1,
          to: dec1,
          priceVersion: 2,
          price: { model: 'graduated', tiers: [{ upTo: '100', unitAmount: '0' }, { upTo: null, unitAmount: '0.08' }] },
          quantity: '350.5',
        },
      ],
    },
  ],
  discounts: [],
  taxRates: [{ name: 'State', percent: '6' }],
  coveredFraction: '1',
});

const CHARGES: Charges = {
  ...statement,
  customerId: 'acme',
  periodStart: '2026-11-01T00:00:00.000Z',
  periodEnd: '2026-12-01T00:00:00.000Z',
  asOf: '2026-11-20T08:30:00.000Z',
  contractVersion: 3,
  plan: 'backup-pro',
  contract: { version: 3, plan: 'backup-pro', startsAt: '2026-01-01T00:00:00Z' },
  unpriced: [{ meter: 'seats', from: '2026-11-01T00:00:00.000Z', to: '2026-12-01T00:00:00.000Z', quantity: '4', reason: 'no_price' }],
  forecast: { subtotal: '75.02', preciseSubtotal: '75.020000000', method: 'run rate since the period started' },
};

const RATED_AT = Date.parse('2026-11-20T08:30:01.250Z');

/** The row as the engine answers the latest-figure query: times in DateTime64 text form. */
function storedRow(overrides: { statement?: string } = {}) {
  const row = rowOf('t1', RATED_AT, CHARGES);
  return { tenant_id: row.tenant_id, customer_id: row.customer_id, last_rated: row.rated_at, statement: overrides.statement ?? row.statement };
}

function readError(action: () => unknown): RatedChargesReadError {
  try {
    action();
  } catch (error) {
    if (error instanceof RatedChargesReadError) return error;
    throw error;
  }
  throw new Error('expected a RatedChargesReadError');
}

describe('rated charges row mapping', () => {
  it('stores the totals in columns, instants in the engine text form and the whole statement as JSON', () => {
    const row = rowOf('t1', RATED_AT, CHARGES);
    expect(row).toEqual({
      tenant_id: 't1',
      customer_id: 'acme',
      period_start: '2026-11-01 00:00:00.000',
      period_end: '2026-12-01 00:00:00.000',
      rated_at: '2026-11-20 08:30:01.250',
      currency: 'USD',
      subtotal: CHARGES.subtotal,
      tax: CHARGES.tax,
      total: CHARGES.total,
      statement: JSON.stringify(CHARGES),
    });
  });

  it('reads back exactly the charges that were stored, with the rating instant', () => {
    const figure = figureOf(storedRow());
    expect(figure.tenantId).toBe('t1');
    expect(figure.customerId).toBe('acme');
    expect(figure.ratedAt).toBe('2026-11-20T08:30:01.250Z');
    expect(figure.statement()).toEqual(CHARGES);
    // Decimal strings stay strings, digit for digit.
    expect(figure.statement().lines.map((line) => line.preciseAmount)).toEqual(CHARGES.lines.map((line) => line.preciseAmount));
  });

  it('keeps the figures of a customer without a contract (no plan, no lines, all usage unpriced)', () => {
    const bare: Charges = { ...CHARGES, lines: [], contractVersion: null, plan: null, contract: null, subtotal: '0.00', tax: '0.00', total: '0.00' };
    const row = rowOf('t1', RATED_AT, bare);
    expect(parseStatement({ tenant_id: 't1', customer_id: 'acme', last_rated: row.rated_at, statement: row.statement })).toEqual(bare);
  });

  it('the stored shape and the charges type are the same both ways', () => {
    const stored: ChargesView = CHARGES;
    const charges: Charges = parseStatement(storedRow());
    expect(charges).toEqual(stored);
  });

  it('shows a history row with RFC 3339 instants and totals in the minor unit', () => {
    expect(
      snapshotOf({
        rated_at: '2026-11-20 08:30:01.250',
        period_start: '2026-11-01 00:00:00.000',
        period_end: '2026-12-01 00:00:00.000',
        currency: 'JPY',
        subtotal: '1234.500000000',
        tax: '98.760000000',
        total: '1333.260000000',
      }),
    ).toEqual({
      ratedAt: '2026-11-20T08:30:01.250Z',
      periodStart: '2026-11-01T00:00:00.000Z',
      periodEnd: '2026-12-01T00:00:00.000Z',
      currency: 'JPY',
      subtotal: '1235',
      tax: '99',
      total: '1333',
    });
  });
});

describe('a stored statement that does not match the charges schema', () => {
  it('is refused naming the row and the field, never read as charges', () => {
    const broken = { ...JSON.parse(JSON.stringify(CHARGES)), subtotal: 75.02 } as Record<string, unknown>;
    const error = readError(() => parseStatement(storedRow({ statement: JSON.stringify(broken) })));
    expect(error.message).toMatch(/^rated_charges row of tenant t1, customer acme, rated at 2026-11-20T08:30:01\.250Z: statement does not match the charges schema: subtotal: /);
    expect(error.tenantId).toBe('t1');
    expect(error.customerId).toBe('acme');
  });

  it('names a nested field by its path', () => {
    const broken = JSON.parse(JSON.stringify(CHARGES)) as { lines: Array<{ parts: Array<Record<string, unknown>> }> };
    delete broken.lines[1]?.parts[0]?.amount;
    const error = readError(() => parseStatement(storedRow({ statement: JSON.stringify(broken) })));
    expect(error.message).toContain('lines.1.parts.0.amount: ');
  });

  it('is refused when a field is missing altogether', () => {
    const { unpriced: _dropped, ...broken } = CHARGES;
    const error = readError(() => parseStatement(storedRow({ statement: JSON.stringify(broken) })));
    expect(error.message).toContain('unpriced: ');
  });

  it('is refused when it is not JSON at all', () => {
    const error = readError(() => parseStatement(storedRow({ statement: '{"customerId":"acme",' })));
    expect(error.message).toMatch(/customer acme, .*: statement is not JSON/);
  });

  it('fails only when its statement is asked for, so the other figures of a batch stay readable', () => {
    const figures = [figureOf(storedRow({ statement: '[]' })), figureOf(storedRow())];
    expect(figures.map((figure) => figure.customerId)).toEqual(['acme', 'acme']);
    expect(() => figures[0]?.statement()).toThrow(RatedChargesReadError);
    expect(figures[1]?.statement()).toEqual(CHARGES);
  });
});
