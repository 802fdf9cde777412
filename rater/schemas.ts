import { z } from 'zod';
import { currencyCode, customerId } from '../catalog/index.js';
import { D, HUNDRED } from '../platform/money.js';
import { priceSchema } from './pricing/index.js';

const slug = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'lowercase letters, digits, "-" and "_", starting with a letter or digit, at most 63 characters');

// Usage is kept per minute, so terms change on whole minutes: an instant inside a minute would
// split usage that the rollups cannot split.
const instant = z.iso
  .datetime({ offset: true, error: 'an RFC 3339 date-time with an offset, such as 2026-12-01T00:00:00Z' })
  .refine((text) => Date.parse(text) % 60_000 === 0, 'must fall on a whole minute (usage is kept per minute)');
const decimalText = z.string().regex(/^\d+(\.\d+)?$/, 'a non-negative decimal string such as "12.5"');
const percentText = decimalText.refine((text) => new D(text).lte(HUNDRED), 'a percentage from 0 to 100');

export const chargeInput = z
  .object({
    key: slug,
    meter: slug.optional().describe('the meter whose usage this charge prices; none for flat fees'),
    price: priceSchema,
    category: z.string().min(1).max(100).optional().describe('service category shown on statements'),
    proration: z.enum(['none', 'daily']).default('none'),
  })
  .superRefine((charge, ctx) => {
    const usageBased = charge.price.model !== 'flat';
    if (usageBased && charge.meter === undefined) {
      ctx.addIssue({ code: 'custom', path: ['meter'], message: `a ${charge.price.model} price needs a meter` });
    }
    if (!usageBased && charge.meter !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['meter'], message: 'a flat fee takes no meter' });
    }
    if (charge.proration === 'daily' && (charge.price.model === 'percentage' || charge.price.model === 'flat')) {
      ctx.addIssue({ code: 'custom', path: ['proration'], message: 'daily proration applies to gauge meters priced per unit or by tiers' });
    }
  });
export type ChargeInput = z.infer<typeof chargeInput>;

export const planInput = z
  .object({
    key: slug,
    name: z.string().min(1).max(200),
    currency: currencyCode,
    charges: z.array(chargeInput).min(1).max(200),
    effectiveFrom: instant
      .optional()
      .describe('when this version takes effect; default the next whole minute. The first version is in force from the beginning whatever it says'),
  })
  .superRefine((plan, ctx) => {
    const seen = new Set<string>();
    plan.charges.forEach((charge, index) => {
      if (seen.has(charge.key)) ctx.addIssue({ code: 'custom', path: ['charges', index, 'key'], message: `charge ${charge.key} appears twice` });
      seen.add(charge.key);
    });
  });
export type PlanInput = z.infer<typeof planInput>;

export const planVersionView = z.object({
  key: z.string(),
  version: z.number().int(),
  name: z.string(),
  currency: z.string(),
  charges: z.array(chargeInput),
  effectiveFrom: z.string(),
  createdAt: z.string(),
});
export type PlanVersion = z.infer<typeof planVersionView>;

const discount = z
  .object({
    chargeKey: slug.optional().describe('the charge discounted; all charges when absent'),
    percent: percentText.optional(),
    amount: decimalText.optional(),
    validFrom: instant.optional(),
    validTo: instant.optional(),
  })
  .superRefine((value, ctx) => {
    if ((value.percent === undefined) === (value.amount === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['percent'], message: 'give exactly one of percent or amount' });
    }
    if (value.validFrom !== undefined && value.validTo !== undefined && Date.parse(value.validFrom) >= Date.parse(value.validTo)) {
      ctx.addIssue({ code: 'custom', path: ['validTo'], message: 'must be after validFrom' });
    }
  });

export const contractInput = z
  .object({
    plan: slug,
    startsAt: instant,
    endsAt: instant.optional(),
    overrides: z.record(slug, priceSchema).default({}).describe('prices replacing the plan\'s, by charge key'),
    discounts: z.array(discount).max(100).default([]),
    minimumCommitment: decimalText.optional(),
    taxRates: z
      .array(z.object({ name: z.string().min(1).max(100), percent: percentText }))
      .max(10)
      .default([]),
    reason: z.string().max(1000).default('').describe('why this change was made, kept in the history'),
  })
  .superRefine((contract, ctx) => {
    if (contract.endsAt !== undefined && Date.parse(contract.endsAt) <= Date.parse(contract.startsAt)) {
      ctx.addIssue({ code: 'custom', path: ['endsAt'], message: 'must be after startsAt' });
    }
  });
export type ContractInput = z.infer<typeof contractInput>;

export const contractVersionView = z.object({
  customerId,
  version: z.number().int(),
  terms: contractInput,
  createdAt: z.string(),
  createdBy: z.string().describe('the id of the API key that made the change'),
  reason: z.string(),
});
export type ContractVersion = z.infer<typeof contractVersionView>;

/** One row of a price's breakdown, as the API shows it. */
export const breakdownRowView = z.object({
  tier: z.number().int().optional(),
  quantity: z.string(),
  unitAmount: z.string().optional(),
  rate: z.string().optional(),
  flatAmount: z.string().optional(),
  clamp: z.enum(['min', 'max']).optional(),
  amount: z.string(),
});

const money = z.string().describe('decimal string');

export const unpricedView = z
  .array(
    z.object({
      meter: z.string(),
      from: z.string(),
      to: z.string(),
      quantity: money.describe("the meter's aggregate over the span"),
      reason: z.enum(['no_contract', 'no_price']),
    }),
  )
  .describe('usage in the period that no charge prices, per meter and span: outside the contract (no_contract) or inside it with no charge on the meter (no_price)');

/**
 * The charges of a customer's period as the API answers them and as the rater stores each rated
 * figure: one shape, so what is read back from the store is checked against what was promised.
 */
export const chargesView = z.object({
  customerId: z.string(),
  periodStart: z.string(),
  periodEnd: z.string(),
  asOf: z.string(),
  currency: z.string(),
  plan: z.string().nullable().describe('null without a contract'),
  contractVersion: z.number().int().nullable().describe('null without a contract'),
  contract: z
    .object({ version: z.number().int(), plan: z.string(), startsAt: z.string(), endsAt: z.string().optional() })
    .nullable()
    .describe('the contract the figures are priced with; null when the customer has none (then there are no lines and all usage is unpriced)'),
  lines: z.array(
    z.object({
      charge: z.string(),
      category: z.string().optional(),
      quantity: money,
      parts: z.array(
        z.object({
          from: z.string(),
          to: z.string(),
          priceVersion: z.number().int(),
          quantity: money,
          amount: money,
          breakdown: z.array(breakdownRowView),
          cost: money.optional(),
          markup: money.optional(),
          margin: money.optional(),
        }),
      ),
      grossAmount: money,
      discount: money,
      taxes: z.array(z.object({ name: z.string(), percent: money, amount: money, preciseAmount: money })),
      amount: money,
      preciseAmount: money,
    }),
  ),
  subtotal: money,
  tax: money,
  total: money,
  unpriced: unpricedView,
  forecast: z
    .object({ subtotal: money.describe('rounded to the minor unit'), preciseSubtotal: money.describe('to 9 decimal places'), method: z.string() })
    .optional(),
});
export type ChargesView = z.infer<typeof chargesView>;

/** One figure of a customer's rating history: the totals the rater stored at one moment. */
export const ratedSnapshotView = z.object({
  ratedAt: z.string(),
  periodStart: z.string(),
  periodEnd: z.string(),
  currency: z.string(),
  subtotal: money,
  tax: money,
  total: money,
});
export type RatedSnapshot = z.infer<typeof ratedSnapshotView>;
