/**
 * The pricing models, as pure functions from a validated price and metered usage to an amount.
 *
 * Conventions shared by every model:
 *
 * - All decimals in and out are strings. Output decimals are canonical: plain notation (never an
 *   exponent), no trailing fraction zeros, "0" for zero (so "51", not "51.00"). Amounts are
 *   exact and unrounded; round once, at invoicing, with roundToMinorUnit.
 * - Arithmetic is exact to 60 significant digits. An amount that would need more throws a
 *   RangeError instead of being rounded, with two deliberate exceptions, both rounded half-up to
 *   60 significant digits: flat's amount × fraction (the fraction is usually a rounded ratio
 *   such as 10/30 already), and markup's `margin`, a ratio rather than an amount.
 * - `amount` is the sum of the breakdown rows' amounts, exactly.
 * - Each row satisfies
 *     amount = quantity × (unitAmount ?? 0) + quantity × (rate ?? 0) / 100 + (flatAmount ?? 0)
 *   except a percentage row marked `clamp`, whose amount is minPerEvent or maxPerEvent instead.
 *   A row carries the parameters that produced it, canonicalized; a parameter the price leaves
 *   out is left out of the row. `tier` is the 0-based index into the price's tiers.
 * - Inputs the model does not use are ignored (flat ignores quantity, percentage ignores
 *   quantity and fraction, the rest ignore events and fraction).
 * - Quantities and event values must be decimal strings ≥ 0, except that the two linear models,
 *   unit and markup, price a negative quantity too (SUM meters take credits and corrections, and
 *   a period's corrections may outweigh its usage): the amount is then a credit, negative.
 *   Anything else throws a RangeError: a tier, a package or a per-event fee has no meaning for a
 *   negative total, and guessing one would misprice.
 *   Prices must have passed priceSchema: the tier order and bounds it checks are assumed here,
 *   though malformed or negative decimals and tier lists that leave a quantity unpriced still
 *   throw a RangeError rather than produce a wrong amount.
 */
import {
  D,
  HUNDRED,
  ONE,
  ZERO,
  add,
  ceilDiv,
  format,
  mul,
  parseDecimal,
  parseFraction,
  parseNonNegative,
  preview,
  percentOf,
  prorate,
  sub,
  sum,
  type Decimal,
} from '../../platform/money.js';
import type { Price, PriceModel } from './price-schema.js';

export interface PriceInput {
  /** The metered quantity: for markup, the wholesale cost. Used by every model but percentage and flat. */
  quantity?: string;
  /** The individual event values in time order. Used by percentage only. */
  events?: readonly string[];
  /** The share of the period the contract covered, in [0, 1]; defaults to "1". Used by flat only. */
  fraction?: string;
}

export interface BreakdownRow {
  /** 0-based index into the price's tiers, on rows of tiered models. */
  tier?: number;
  quantity: string;
  unitAmount?: string;
  /** A percentage: the row charges quantity × rate / 100. */
  rate?: string;
  flatAmount?: string;
  /** Set when minPerEvent or maxPerEvent replaced the event's computed charge. */
  clamp?: 'min' | 'max';
  amount: string;
}

export interface PriceResult {
  /** The exact, unrounded charge: the sum of the breakdown amounts. */
  amount: string;
  breakdown: BreakdownRow[];
  /** markup only: the wholesale cost (the quantity). */
  cost?: string;
  /** markup only: amount − cost. */
  markup?: string;
  /** markup only: markup / amount as a percentage, "0" when amount is 0. */
  margin?: string;
}

interface Line {
  tier?: number;
  quantity: Decimal;
  unitAmount?: Decimal;
  rate?: Decimal;
  flatAmount?: Decimal;
  clamp?: 'min' | 'max';
  amount: Decimal;
}

type PriceOf<M extends PriceModel> = Extract<Price, { model: M }>;

export function priceAmount(price: Price, input: PriceInput): PriceResult {
  switch (price.model) {
    case 'unit':
      return unitAmount(price, signedQuantityOf(input, price.model));
    case 'graduated':
      return graduatedAmount(price, quantityOf(input, price.model));
    case 'volume':
      return volumeAmount(price, quantityOf(input, price.model));
    case 'package':
      return packageAmount(price, quantityOf(input, price.model));
    case 'percentage':
      return percentageAmount(price, eventsOf(input));
    case 'graduated_percentage':
      return graduatedPercentageAmount(price, quantityOf(input, price.model));
    case 'flat':
      return flatAmount(price, input.fraction === undefined ? ONE : parseFraction(input.fraction, 'fraction'));
    case 'markup':
      return markupAmount(price, signedQuantityOf(input, price.model));
    default:
      return unknownModel(price);
  }
}

function unknownModel(price: never): never {
  // Reachable only with a price that skipped priceSchema, so its shape is unknown here.
  const model: unknown = (price as { model?: unknown }).model;
  throw new RangeError(`unknown price model ${JSON.stringify(model)}`);
}

function quantityOf(input: PriceInput, model: PriceModel): Decimal {
  if (input.quantity === undefined) throw new RangeError(`a ${model} price needs a quantity`);
  const quantity = parseDecimal(input.quantity, 'quantity');
  if (quantity.lt(0)) {
    throw new RangeError(`quantity must not be negative for a ${model} price (only unit and markup prices take credits), got ${preview(input.quantity)}`);
  }
  return quantity;
}

/** The linear models' quantity: a negative one (corrections above usage) is priced as a credit. */
function signedQuantityOf(input: PriceInput, model: PriceModel): Decimal {
  if (input.quantity === undefined) throw new RangeError(`a ${model} price needs a quantity`);
  return parseDecimal(input.quantity, 'quantity');
}

function eventsOf(input: PriceInput): Decimal[] {
  if (!Array.isArray(input.events)) throw new RangeError('a percentage price needs events: an array of event values');
  // Array.isArray narrows to any[]; the values are checked one by one, so read them as unknown.
  return input.events.map((value: unknown, index) => parseNonNegative(value, `events[${index}]`));
}

function optionalAmount(text: string | undefined, what: string): Decimal | undefined {
  return text === undefined ? undefined : parseNonNegative(text, what);
}

function unitAmount(price: PriceOf<'unit'>, quantity: Decimal): PriceResult {
  const unit = parseNonNegative(price.unitAmount, 'unitAmount');
  return resultOf([{ quantity, unitAmount: unit, amount: mul(quantity, unit) }]);
}

/**
 * The tiers `quantity` has entered, with the units that fall inside each. A tier covers the
 * quantities above the previous tier's upTo up to and including its own; it is entered when the
 * quantity is above the previous upTo. The first tier covers 0 too and is always entered, so its
 * flat amount is charged even at quantity 0.
 */
function enteredTiers<T extends { upTo: string | null }>(
  tiers: readonly T[],
  quantity: Decimal,
): Array<{ index: number; tier: T; units: Decimal }> {
  if (tiers.length === 0) throw new RangeError('a tiered price needs at least one tier');
  const entered: Array<{ index: number; tier: T; units: Decimal }> = [];
  let lower = ZERO;
  for (const [index, tier] of tiers.entries()) {
    if (index > 0 && quantity.lte(lower)) return entered;
    const upper = tier.upTo === null ? null : parseNonNegative(tier.upTo, `tiers[${index}].upTo`);
    if (upper !== null && index > 0 && upper.lte(lower)) {
      throw new RangeError(`tiers[${index}].upTo must be above tiers[${index - 1}].upTo; validate prices with priceSchema`);
    }
    const top = upper === null || quantity.lt(upper) ? quantity : upper;
    entered.push({ index, tier, units: sub(top, lower) });
    if (upper === null) return entered;
    lower = upper;
  }
  if (quantity.gt(lower)) {
    throw new RangeError(`quantity ${format(quantity)} is above the last tier's upTo (${format(lower)}); the last tier must have upTo null`);
  }
  return entered;
}

function graduatedAmount(price: PriceOf<'graduated'>, quantity: Decimal): PriceResult {
  return resultOf(
    enteredTiers(price.tiers, quantity).map(({ index, tier, units }) => tierLine(index, tier, units)),
  );
}

/** The whole quantity is priced by the one tier that contains it; quantity 0 falls in the first. */
function volumeAmount(price: PriceOf<'volume'>, quantity: Decimal): PriceResult {
  if (price.tiers.length === 0) throw new RangeError('a tiered price needs at least one tier');
  for (const [index, tier] of price.tiers.entries()) {
    const upper = tier.upTo === null ? null : parseNonNegative(tier.upTo, `tiers[${index}].upTo`);
    if (upper === null || quantity.lte(upper)) return resultOf([tierLine(index, tier, quantity)]);
  }
  throw new RangeError(`quantity ${format(quantity)} is above every tier's upTo; the last tier must have upTo null`);
}

function tierLine(index: number, tier: PriceOf<'graduated'>['tiers'][number], units: Decimal): Line {
  const unit = optionalAmount(tier.unitAmount, `tiers[${index}].unitAmount`);
  const flat = optionalAmount(tier.flatAmount, `tiers[${index}].flatAmount`);
  const amount = add(unit === undefined ? ZERO : mul(units, unit), flat ?? ZERO);
  return { tier: index, quantity: units, unitAmount: unit, flatAmount: flat, amount };
}

/**
 * ⌈(quantity − freeUnits) / packageSize⌉ packages, never fewer than 0. The row's quantity counts
 * packages, and its unitAmount is the package amount.
 */
function packageAmount(price: PriceOf<'package'>, quantity: Decimal): PriceResult {
  const size = parseNonNegative(price.packageSize, 'packageSize');
  if (size.isZero()) throw new RangeError('packageSize must be greater than 0');
  const perPackage = parseNonNegative(price.packageAmount, 'packageAmount');
  const free = optionalAmount(price.freeUnits, 'freeUnits') ?? ZERO;
  const billable = quantity.gt(free) ? sub(quantity, free) : ZERO;
  const packages = ceilDiv(billable, size);
  return resultOf([{ quantity: packages, unitAmount: perPackage, amount: mul(packages, perPackage) }]);
}

/**
 * Charges each event separately, in the order given (time order).
 *
 * Free allowance: when freeEvents and/or freeAmount is set, events are free from the start until
 * the allowance ends, and it ends as soon as any limit that is set is used up:
 * - freeEvents alone: the first freeEvents events are free, whatever their values;
 * - freeAmount alone: event value is free until freeAmount of it has been consumed, over any
 *   number of events;
 * - both: the same, ending when EITHER the event count or the value is used up.
 * An event that crosses the end of freeAmount is charged on the part above it (and counts as one
 * of the freeEvents). A limit of "0" means there is no allowance at all. An event of value 0
 * inside the allowance is free, and uses up one of the freeEvents.
 *
 * A paid event costs paidValue × rate / 100 + fixedAmount, then clamped to
 * [minPerEvent, maxPerEvent]; this applies to a paid value of 0 as well. An event whose whole
 * value fell inside the allowance costs 0, with no fixed amount and no minimum.
 *
 * The breakdown has one row per event, in the same order. Its quantity is the paid part of the
 * event's value: 0 on a fully free event, whose row carries only quantity and amount.
 */
function percentageAmount(price: PriceOf<'percentage'>, events: readonly Decimal[]): PriceResult {
  const rate = parseNonNegative(price.rate, 'rate');
  const fixed = optionalAmount(price.fixedAmount, 'fixedAmount');
  const min = optionalAmount(price.minPerEvent, 'minPerEvent');
  const max = optionalAmount(price.maxPerEvent, 'maxPerEvent');
  let freeEventsLeft = optionalAmount(price.freeEvents, 'freeEvents');
  if (freeEventsLeft !== undefined && !freeEventsLeft.isInteger()) throw new RangeError('freeEvents must be a whole number');
  let freeAmountLeft = optionalAmount(price.freeAmount, 'freeAmount');

  const allowanceOpen = () =>
    (freeEventsLeft !== undefined || freeAmountLeft !== undefined) &&
    (freeEventsLeft === undefined || freeEventsLeft.gt(0)) &&
    (freeAmountLeft === undefined || freeAmountLeft.gt(0));

  const lines = events.map((value): Line => {
    let paid = value;
    if (allowanceOpen()) {
      if (freeAmountLeft === undefined) {
        paid = ZERO;
      } else {
        const freePart = D.min(value, freeAmountLeft);
        paid = sub(value, freePart);
        freeAmountLeft = sub(freeAmountLeft, freePart);
      }
      if (freeEventsLeft !== undefined) freeEventsLeft = sub(freeEventsLeft, ONE);
      if (paid.isZero()) return { quantity: ZERO, amount: ZERO };
    }
    const computed = add(percentOf(paid, rate), fixed ?? ZERO);
    const line: Line = { quantity: paid, rate, flatAmount: fixed, amount: computed };
    if (min !== undefined && computed.lt(min)) return { ...line, clamp: 'min', amount: min };
    if (max !== undefined && computed.gt(max)) return { ...line, clamp: 'max', amount: max };
    return line;
  });
  return resultOf(lines);
}

/** Graduated, with each tier charging a percentage of the amount inside it. */
function graduatedPercentageAmount(price: PriceOf<'graduated_percentage'>, quantity: Decimal): PriceResult {
  return resultOf(
    enteredTiers(price.tiers, quantity).map(({ index, tier, units }): Line => {
      const rate = parseNonNegative(tier.rate, `tiers[${index}].rate`);
      const flat = optionalAmount(tier.flatAmount, `tiers[${index}].flatAmount`);
      return { tier: index, quantity: units, rate, flatAmount: flat, amount: add(percentOf(units, rate), flat ?? ZERO) };
    }),
  );
}

/** A recurring fee prorated by the covered share of the period; the row's quantity is that share. */
function flatAmount(price: PriceOf<'flat'>, fraction: Decimal): PriceResult {
  const fee = parseNonNegative(price.amount, 'amount');
  return resultOf([{ quantity: fraction, unitAmount: fee, amount: prorate(fee, fraction) }]);
}

/**
 * cost × (1 + markupPercent / 100), raised to minimumAmount if that is more. Rows: the cost
 * (unitAmount 1), the markup on it (rate markupPercent), and, when the minimum applies, a
 * top-up row whose flatAmount brings the total to the minimum.
 */
function markupAmount(price: PriceOf<'markup'>, cost: Decimal): PriceResult {
  const percent = parseNonNegative(price.markupPercent, 'markupPercent');
  const minimum = optionalAmount(price.minimumAmount, 'minimumAmount');
  const lines: Line[] = [
    { quantity: cost, unitAmount: ONE, amount: cost },
    { quantity: cost, rate: percent, amount: percentOf(cost, percent) },
  ];
  const marked = sum(lines.map((line) => line.amount));
  if (minimum !== undefined && marked.lt(minimum)) {
    const topUp = sub(minimum, marked);
    lines.push({ quantity: ZERO, flatAmount: topUp, amount: topUp });
  }
  const charge = sum(lines.map((line) => line.amount));
  const markup = sub(charge, cost);
  const margin = charge.isZero() ? ZERO : mul(markup, HUNDRED).div(charge);
  return { ...resultOf(lines), cost: format(cost), markup: format(markup), margin: format(margin) };
}

function resultOf(lines: readonly Line[]): PriceResult {
  return { amount: format(sum(lines.map((line) => line.amount))), breakdown: lines.map(rowOf) };
}

function rowOf(line: Line): BreakdownRow {
  // Absent parameters are left out rather than set to undefined, and keys come in a fixed order,
  // so rows compare and serialize predictably.
  return {
    ...(line.tier === undefined ? {} : { tier: line.tier }),
    quantity: format(line.quantity),
    ...(line.unitAmount === undefined ? {} : { unitAmount: format(line.unitAmount) }),
    ...(line.rate === undefined ? {} : { rate: format(line.rate) }),
    ...(line.flatAmount === undefined ? {} : { flatAmount: format(line.flatAmount) }),
    ...(line.clamp === undefined ? {} : { clamp: line.clamp }),
    amount: format(line.amount),
  };
}
