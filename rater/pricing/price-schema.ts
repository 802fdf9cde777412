import { z } from 'zod';
import { D, DECIMAL_TEXT, HUNDRED, type Decimal } from '../../platform/money.js';

// Every amount, rate and bound is a decimal string: a JSON number would already have lost digits
// by the time it got here.
type DecimalRule = {
  /** Smallest allowed value and whether it is allowed itself. */
  min: { value: '0'; inclusive: boolean };
  /** Largest allowed value, inclusive. */
  max?: string;
  integer?: boolean;
};

function decimalField(rule: DecimalRule) {
  return z.string({ error: 'must be a decimal string such as "12.5" (JSON numbers lose precision)' }).superRefine((text, ctx) => {
    if (!DECIMAL_TEXT.test(text)) {
      ctx.addIssue({ code: 'custom', message: 'must be a decimal string such as "12.5": digits, an optional leading "-" and fraction, no exponent' });
      return;
    }
    const value = new D(text);
    if (rule.min.inclusive ? value.lt(rule.min.value) : value.lte(rule.min.value)) {
      ctx.addIssue({ code: 'custom', message: rule.min.inclusive ? 'must not be negative' : 'must be greater than 0' });
      return;
    }
    if (rule.max !== undefined && value.gt(rule.max)) {
      ctx.addIssue({ code: 'custom', message: `must be at most ${rule.max}` });
      return;
    }
    if (rule.integer === true && !value.isInteger()) {
      ctx.addIssue({ code: 'custom', message: 'must be a whole number' });
    }
  });
}

const amount = decimalField({ min: { value: '0', inclusive: true } });
const positive = decimalField({ min: { value: '0', inclusive: false } });
const percent = decimalField({ min: { value: '0', inclusive: true }, max: HUNDRED.toFixed() });
const count = decimalField({ min: { value: '0', inclusive: true }, integer: true });

// zod skips these refinements when a field inside already failed, but they guard the decimal
// text anyway so that a change in that behaviour cannot turn a validation issue into a throw.
function decimalOrUndefined(text: string): Decimal | undefined {
  return DECIMAL_TEXT.test(text) ? new D(text) : undefined;
}

function checkTierOrder(tiers: ReadonlyArray<{ upTo: string | null }>, ctx: z.RefinementCtx<unknown>): void {
  const last = tiers.length - 1;
  let previous: { index: number; upTo: string; value: Decimal } | undefined;
  tiers.forEach((tier, index) => {
    if (tier.upTo === null) {
      if (index !== last) {
        ctx.addIssue({ code: 'custom', path: [index, 'upTo'], message: 'only the last tier may have upTo null (no upper bound)' });
      }
      return;
    }
    if (index === last) {
      ctx.addIssue({
        code: 'custom',
        path: [index, 'upTo'],
        message: 'the last tier must have upTo null so that every quantity falls in a tier',
      });
    }
    const value = decimalOrUndefined(tier.upTo);
    if (value === undefined) return;
    if (previous !== undefined && !value.gt(previous.value)) {
      ctx.addIssue({
        code: 'custom',
        path: [index, 'upTo'],
        message: `must be greater than the upTo of tier ${previous.index} (${previous.upTo}); tiers are listed in ascending order`,
      });
    }
    previous = { index, upTo: tier.upTo, value };
  });
}

/** `upTo` is the inclusive upper bound of the tier; null (last tier only) means unbounded. */
export const tierSchema = z.strictObject({
  upTo: amount.nullable(),
  unitAmount: amount.optional(),
  flatAmount: amount.optional(),
});
export type Tier = z.infer<typeof tierSchema>;

export const percentTierSchema = z.strictObject({
  upTo: amount.nullable(),
  rate: percent,
  flatAmount: amount.optional(),
});
export type PercentTier = z.infer<typeof percentTierSchema>;

const tiers = z.array(tierSchema).min(1, 'must have at least one tier').superRefine(checkTierOrder);
const percentTiers = z.array(percentTierSchema).min(1, 'must have at least one tier').superRefine(checkTierOrder);

const unitPrice = z.strictObject({ model: z.literal('unit'), unitAmount: amount });
const graduatedPrice = z.strictObject({ model: z.literal('graduated'), tiers });
const volumePrice = z.strictObject({ model: z.literal('volume'), tiers });
const packagePrice = z.strictObject({
  model: z.literal('package'),
  packageSize: positive,
  packageAmount: amount,
  freeUnits: amount.optional(),
});
const percentagePrice = z
  .strictObject({
    model: z.literal('percentage'),
    rate: percent,
    fixedAmount: amount.optional(),
    freeEvents: count.optional(),
    freeAmount: amount.optional(),
    minPerEvent: amount.optional(),
    maxPerEvent: amount.optional(),
  })
  .superRefine((price, ctx) => {
    if (price.minPerEvent === undefined || price.maxPerEvent === undefined) return;
    const min = decimalOrUndefined(price.minPerEvent);
    const max = decimalOrUndefined(price.maxPerEvent);
    if (min !== undefined && max !== undefined && min.gt(max)) {
      ctx.addIssue({
        code: 'custom',
        path: ['minPerEvent'],
        message: `must not exceed maxPerEvent (${price.maxPerEvent})`,
      });
    }
  });
const graduatedPercentagePrice = z.strictObject({ model: z.literal('graduated_percentage'), tiers: percentTiers });
const flatPrice = z.strictObject({ model: z.literal('flat'), amount });
const markupPrice = z.strictObject({
  model: z.literal('markup'),
  // Unbounded above: a 250% markup on wholesale cost is ordinary.
  markupPercent: amount,
  minimumAmount: amount.optional(),
});

/**
 * A price as configured on a plan. Parse with this before calling priceAmount: the pricing
 * functions rely on the tier order and bounds checked here.
 */
export const priceSchema = z.discriminatedUnion('model', [
  unitPrice,
  graduatedPrice,
  volumePrice,
  packagePrice,
  percentagePrice,
  graduatedPercentagePrice,
  flatPrice,
  markupPrice,
]);
export type Price = z.infer<typeof priceSchema>;
export type PriceModel = Price['model'];
