import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { priceSchema } from './price-schema.js';

type Issue = { path: PropertyKey[]; message: string };

function issuesOf(input: unknown): Issue[] {
  const result = priceSchema.safeParse(input);
  if (result.success) throw new Error(`expected ${JSON.stringify(input)} to be rejected`);
  return result.error.issues.map((issue) => ({ path: issue.path, message: issue.message }));
}

const stripeTiers = [
  { upTo: '5', unitAmount: '5.00', flatAmount: '0' },
  { upTo: '10', unitAmount: '4.00' },
  { upTo: null, unitAmount: '3.00' },
];

describe('priceSchema accepts', () => {
  it.each([
    { model: 'unit', unitAmount: '0.0025' },
    { model: 'unit', unitAmount: '0' },
    { model: 'graduated', tiers: stripeTiers },
    { model: 'volume', tiers: [{ upTo: null, flatAmount: '10' }] },
    { model: 'graduated', tiers: [{ upTo: '0', flatAmount: '7' }, { upTo: null }] },
    { model: 'package', packageSize: '100', packageAmount: '5', freeUnits: '50' },
    { model: 'package', packageSize: '0.5', packageAmount: '0' },
    {
      model: 'percentage',
      rate: '2.9',
      fixedAmount: '0.30',
      freeEvents: '10',
      freeAmount: '100',
      minPerEvent: '0.50',
      maxPerEvent: '0.50',
    },
    { model: 'percentage', rate: '100' },
    { model: 'graduated_percentage', tiers: [{ upTo: '1000', rate: '5', flatAmount: '1' }, { upTo: null, rate: '0' }] },
    { model: 'flat', amount: '49.99' },
    { model: 'markup', markupPercent: '250', minimumAmount: '5' },
  ])('%j', (input) => {
    expect(priceSchema.parse(input)).toEqual(input);
  });
});

describe('priceSchema rejects', () => {
  it.each<[string, unknown, Issue[]]>([
    ['an unknown model', { model: 'tiered' }, [{ path: ['model'], message: expect.stringContaining("Expected 'unit'") as string }]],
    ['a JSON number', { model: 'unit', unitAmount: 5 }, [{ path: ['unitAmount'], message: 'must be a decimal string such as "12.5" (JSON numbers lose precision)' }]],
    [
      'an exponent',
      { model: 'unit', unitAmount: '1e3' },
      [{ path: ['unitAmount'], message: 'must be a decimal string such as "12.5": digits, an optional leading "-" and fraction, no exponent' }],
    ],
    ['a negative amount', { model: 'flat', amount: '-1' }, [{ path: ['amount'], message: 'must not be negative' }]],
    ['a field of another model', { model: 'unit', unitAmount: '1', packageSize: '10' }, [{ path: [], message: 'Unrecognized key: "packageSize"' }]],
    ['a missing field', { model: 'flat' }, [{ path: ['amount'], message: 'must be a decimal string such as "12.5" (JSON numbers lose precision)' }]],
    ['a zero package size', { model: 'package', packageSize: '0', packageAmount: '5' }, [{ path: ['packageSize'], message: 'must be greater than 0' }]],
    ['a negative free allowance', { model: 'package', packageSize: '1', packageAmount: '5', freeUnits: '-1' }, [{ path: ['freeUnits'], message: 'must not be negative' }]],
    ['a rate above 100', { model: 'percentage', rate: '100.01' }, [{ path: ['rate'], message: 'must be at most 100' }]],
    ['a fractional event count', { model: 'percentage', rate: '1', freeEvents: '1.5' }, [{ path: ['freeEvents'], message: 'must be a whole number' }]],
    [
      'a minimum above the maximum',
      { model: 'percentage', rate: '1', minPerEvent: '2', maxPerEvent: '1.5' },
      [{ path: ['minPerEvent'], message: 'must not exceed maxPerEvent (1.5)' }],
    ],
    ['a negative markup', { model: 'markup', markupPercent: '-5' }, [{ path: ['markupPercent'], message: 'must not be negative' }]],
    ['no tiers', { model: 'graduated', tiers: [] }, [{ path: ['tiers'], message: 'must have at least one tier' }]],
    [
      'a tier of the other kind',
      { model: 'graduated', tiers: [{ upTo: null, rate: '5' }] },
      [{ path: ['tiers', 0], message: 'Unrecognized key: "rate"' }],
    ],
    [
      'a missing upTo',
      { model: 'volume', tiers: [{ unitAmount: '1' }] },
      [{ path: ['tiers', 0, 'upTo'], message: 'must be a decimal string such as "12.5" (JSON numbers lose precision)' }],
    ],
    [
      'a tier rate above 100',
      { model: 'graduated_percentage', tiers: [{ upTo: null, rate: '101' }] },
      [{ path: ['tiers', 0, 'rate'], message: 'must be at most 100' }],
    ],
    [
      'tiers out of order',
      {
        model: 'graduated',
        tiers: [
          { upTo: '10', unitAmount: '1' },
          { upTo: '20', unitAmount: '1' },
          { upTo: '20', unitAmount: '1' },
          { upTo: null, unitAmount: '1' },
        ],
      },
      [{ path: ['tiers', 2, 'upTo'], message: 'must be greater than the upTo of tier 1 (20); tiers are listed in ascending order' }],
    ],
    [
      'null before the last tier',
      { model: 'volume', tiers: [{ upTo: null, unitAmount: '1' }, { upTo: null, unitAmount: '2' }] },
      [{ path: ['tiers', 0, 'upTo'], message: 'only the last tier may have upTo null (no upper bound)' }],
    ],
    [
      'a bounded last tier',
      { model: 'graduated_percentage', tiers: [{ upTo: '10', rate: '1' }] },
      [{ path: ['tiers', 0, 'upTo'], message: 'the last tier must have upTo null so that every quantity falls in a tier' }],
    ],
  ])('%s', (_name, input, expected) => {
    expect(issuesOf(input)).toEqual(expected);
  });
});

// Strictly ascending non-negative bounds, as decimal strings with up to three decimals.
const ascendingBounds = fc
  .array(fc.bigInt({ min: 1n, max: 10n ** 9n }), { minLength: 2, maxLength: 8 })
  .map((steps) => {
    let total = 0n;
    return steps.map((step) => {
      total += step;
      const digits = total.toString().padStart(4, '0');
      return `${digits.slice(0, -3)}.${digits.slice(-3)}`;
    });
  });

describe('priceSchema tier order (properties)', () => {
  it('reports a bound that is not above the one before at that tier', () => {
    fc.assert(
      fc.property(ascendingBounds, fc.nat(), fc.boolean(), (bounds, pick, equal) => {
        // Make tier i's bound equal to or below tier i-1's, leaving every other pair ascending.
        const index = 1 + (pick % (bounds.length - 1));
        const broken = [...bounds];
        broken[index] = equal ? (bounds[index - 1] ?? '0') : '0';
        if (index + 1 < bounds.length) broken.splice(index + 1);
        const tiers = [...broken.map((upTo) => ({ upTo, unitAmount: '1' })), { upTo: null, unitAmount: '1' }];
        const issues = issuesOf({ model: 'graduated', tiers });
        expect(issues).toContainEqual({
          path: ['tiers', index, 'upTo'],
          message: expect.stringContaining(`must be greater than the upTo of tier ${index - 1}`) as string,
        });
        expect(issues).toHaveLength(1);
      }),
    );
  });

  it('reports upTo null anywhere but the last tier at that tier', () => {
    fc.assert(
      fc.property(ascendingBounds, fc.nat(), fc.constantFrom('volume', 'graduated'), (bounds, pick, model) => {
        const index = pick % bounds.length;
        const tiers: Array<{ upTo: string | null; unitAmount: string }> = [
          ...bounds.map((upTo) => ({ upTo, unitAmount: '1' })),
          { upTo: null, unitAmount: '1' },
        ];
        tiers[index] = { upTo: null, unitAmount: '1' };
        const issues = issuesOf({ model, tiers });
        expect(issues).toEqual([{ path: ['tiers', index, 'upTo'], message: 'only the last tier may have upTo null (no upper bound)' }]);
      }),
    );
  });

  it('accepts every strictly ascending list ending in null', () => {
    fc.assert(
      fc.property(ascendingBounds, (bounds) => {
        const tiers = [...bounds.map((upTo) => ({ upTo, rate: '1' })), { upTo: null, rate: '2' }];
        expect(priceSchema.safeParse({ model: 'graduated_percentage', tiers }).success).toBe(true);
      }),
    );
  });
});
