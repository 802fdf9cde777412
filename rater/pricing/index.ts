/**
 * Pricing: validated price definitions and the pure functions that turn usage into amounts.
 * Every amount and quantity crosses this boundary as a decimal string; see models.ts for the
 * output conventions and each model's exact semantics.
 */
export { priceSchema, tierSchema, percentTierSchema } from './price-schema.js';
export type { Price, PriceModel, Tier, PercentTier } from './price-schema.js';
export { priceAmount } from './models.js';
export type { PriceInput, PriceResult, BreakdownRow } from './models.js';
export { commitmentTrueUp } from './commitment.js';
export { roundToMinorUnit, minorUnitDigits } from './rounding.js';
