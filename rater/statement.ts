import { D, format, ZERO, type Decimal } from '../platform/money.js';
import { priceAmount, type BreakdownRow, type Price } from './pricing/index.js';
import { roundToMinorUnit } from './pricing/rounding.js';

/**
 * A period's statement from priced usage: a pure function. The shell (charges.ts) gathers the
 * inputs from the store; everything that decides money happens here, in one screen of rules:
 *
 * 1. Each charge is priced per price segment (the spans between price changes); a segment
 *    prices its own quantity with its own price, so tiers start again at a price change.
 * 2. A percent discount takes its share of the line: percent × the part of the line's
 *    quantity (for a flat fee: of its time) that falls inside the discount's validity.
 *    An amount discount takes its amount once, never more than what is left of the line (so
 *    nothing from a credit line, whose gross is negative).
 * 3. Taxes are additive percentages of the discounted line.
 * 4. The commitment true-up is commitment × the covered share of the period, minus the sum of
 *    the discounted lines, when positive; it is taxed like a line.
 * 5. Full precision throughout; each line's net amount and each tax amount are rounded once,
 *    half-up, to the currency's minor unit, and the totals add up the rounded figures.
 */

export interface PriceSegment {
  readonly from: Date;
  readonly to: Date;
  readonly priceVersion: number;
  readonly price: Price;
  /** Quantity in the segment (decimal string); for flat fees the covered fraction of the period. */
  readonly quantity?: string;
  /** Event values in time order, for percentage prices. */
  readonly events?: readonly string[];
}

export interface ChargeInput {
  readonly key: string;
  readonly category?: string;
  readonly segments: readonly PriceSegment[];
}

export interface DiscountInput {
  readonly chargeKey?: string;
  readonly percent?: string;
  readonly amount?: string;
  /** Share (0..1) of each charge's quantity or time inside the discount's validity. */
  readonly shareByCharge: Readonly<Record<string, string>>;
}

export interface StatementInput {
  readonly currency: string;
  readonly charges: readonly ChargeInput[];
  readonly discounts: readonly DiscountInput[];
  readonly taxRates: ReadonlyArray<{ readonly name: string; readonly percent: string }>;
  readonly minimumCommitment?: string;
  /** Share (0..1) of the period the contract covers, for prorating the commitment. */
  readonly coveredFraction: string;
}

export interface StatementPart {
  readonly from: string;
  readonly to: string;
  readonly priceVersion: number;
  readonly quantity: string;
  readonly amount: string;
  readonly breakdown: BreakdownRow[];
  readonly cost?: string;
  readonly markup?: string;
  readonly margin?: string;
}

export interface StatementLine {
  readonly charge: string;
  readonly category?: string;
  readonly quantity: string;
  readonly parts: StatementPart[];
  readonly grossAmount: string;
  readonly discount: string;
  readonly taxes: Array<{ name: string; percent: string; amount: string; preciseAmount: string }>;
  /** Rounded net amount (after discount, before tax). */
  readonly amount: string;
  readonly preciseAmount: string;
}

export interface Statement {
  readonly currency: string;
  readonly lines: StatementLine[];
  readonly subtotal: string;
  readonly tax: string;
  readonly total: string;
}

function sum(values: Iterable<Decimal>): Decimal {
  let total = ZERO;
  for (const value of values) total = total.plus(value);
  return total;
}

function taxesOf(net: Decimal, input: StatementInput) {
  return input.taxRates.map((rate) => {
    const precise = net.times(rate.percent).div(100);
    return { name: rate.name, percent: rate.percent, preciseAmount: format(precise), amount: roundToMinorUnit(format(precise), input.currency) };
  });
}

/** A charge whose price cannot price its usage; names the charge so the failure can be reported. */
export class ChargePriceError extends RangeError {
  constructor(
    readonly charge: string,
    cause: unknown,
  ) {
    super(`charge ${charge}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'ChargePriceError';
  }
}

function priceOrExplain(charge: string, price: Price, input: Parameters<typeof priceAmount>[1]): ReturnType<typeof priceAmount> {
  try {
    return priceAmount(price, input);
  } catch (error) {
    throw new ChargePriceError(charge, error);
  }
}

export function buildStatement(input: StatementInput): Statement {
  const lines: StatementLine[] = input.charges.map((charge) => {
    const parts: StatementPart[] = charge.segments.map((segment) => {
      const result = priceOrExplain(charge.key, segment.price, {
        ...(segment.price.model === 'flat' ? { fraction: segment.quantity ?? '1' } : { quantity: segment.quantity ?? '0' }),
        ...(segment.events ? { events: segment.events } : {}),
      });
      return {
        from: segment.from.toISOString(),
        to: segment.to.toISOString(),
        priceVersion: segment.priceVersion,
        quantity: segment.events ? format(sum(segment.events.map((value) => new D(value)))) : (segment.quantity ?? '0'),
        amount: result.amount,
        breakdown: result.breakdown,
        ...(result.cost !== undefined ? { cost: result.cost } : {}),
        ...(result.markup !== undefined ? { markup: result.markup } : {}),
        ...(result.margin !== undefined ? { margin: result.margin } : {}),
      };
    });
    const gross = sum(parts.map((part) => new D(part.amount)));
    let discount = ZERO;
    for (const entry of input.discounts) {
      if (entry.chargeKey !== undefined && entry.chargeKey !== charge.key) continue;
      const share = new D(entry.shareByCharge[charge.key] ?? '0');
      if (share.isZero()) continue;
      // A credit line (negative gross) leaves nothing for an amount discount to take.
      const left = D.max(gross.minus(discount), ZERO);
      const off = entry.percent !== undefined ? gross.times(share).times(entry.percent).div(100) : new D(entry.amount ?? '0');
      discount = discount.plus(D.min(off, left));
    }
    const net = gross.minus(discount);
    return {
      charge: charge.key,
      ...(charge.category !== undefined ? { category: charge.category } : {}),
      quantity: format(sum(parts.map((part) => new D(part.quantity)))),
      parts,
      grossAmount: format(gross),
      discount: format(discount),
      taxes: taxesOf(net, input),
      amount: roundToMinorUnit(format(net), input.currency),
      preciseAmount: format(net),
    };
  });

  if (input.minimumCommitment !== undefined) {
    const committed = new D(input.minimumCommitment).times(input.coveredFraction);
    const charged = sum(lines.map((line) => new D(line.preciseAmount)));
    const trueUp = committed.minus(charged);
    if (trueUp.gt(0)) {
      lines.push({
        charge: 'minimum-commitment',
        category: 'Commitment',
        quantity: '1',
        parts: [],
        grossAmount: format(trueUp),
        discount: '0',
        taxes: taxesOf(trueUp, input),
        amount: roundToMinorUnit(format(trueUp), input.currency),
        preciseAmount: format(trueUp),
      });
    }
  }

  const subtotal = sum(lines.map((line) => new D(line.amount)));
  const tax = sum(lines.flatMap((line) => line.taxes.map((entry) => new D(entry.amount))));
  return {
    currency: input.currency,
    lines,
    subtotal: roundToMinorUnit(format(subtotal), input.currency),
    tax: roundToMinorUnit(format(tax), input.currency),
    total: roundToMinorUnit(format(subtotal.plus(tax)), input.currency),
  };
}

/** Half-open span of instants in epoch milliseconds (infinite ends allowed). */
export interface Window {
  readonly from: number;
  readonly to: number;
}

/** Why a meter's usage in a span is priced by nothing. */
export type UnpricedReason = 'no_contract' | 'no_price';

export interface UnpricedSpan extends Window {
  readonly reason: UnpricedReason;
}

/** The spans of `window` outside every span of `spans`, in time order. */
function minus(window: Window, spans: readonly Window[]): Window[] {
  const left: Window[] = [];
  let cursor = window.from;
  for (const span of [...spans].sort((a, b) => a.from - b.from)) {
    if (span.to <= cursor || span.from >= window.to) continue;
    if (span.from > cursor) left.push({ from: cursor, to: Math.min(span.from, window.to) });
    cursor = Math.max(cursor, span.to);
    if (cursor >= window.to) break;
  }
  if (cursor < window.to) left.push({ from: cursor, to: window.to });
  return left;
}

/**
 * Where in the period a meter's usage is priced by no charge, so the charges answer can show it
 * rather than price it as nothing: outside the contract (`no_contract`; all of the period when
 * there is none), and inside it wherever no plan version in force has a charge on the meter
 * (`no_price`: a meter the plan does not price, a charge added by a later version).
 */
export function unpricedSpans(period: Window, contract: Window | undefined, priced: readonly Window[]): UnpricedSpan[] {
  const inside = contract ? { from: Math.max(period.from, contract.from), to: Math.min(period.to, contract.to) } : undefined;
  const covered = inside && inside.to > inside.from ? [inside] : [];
  const spans: UnpricedSpan[] = [
    ...minus(period, covered).map((span) => ({ ...span, reason: 'no_contract' as const })),
    ...covered.flatMap((span) => minus(span, priced).map((gap) => ({ ...gap, reason: 'no_price' as const }))),
  ];
  return spans.sort((a, b) => a.from - b.from);
}

export interface ForecastInput {
  readonly currency: string;
  readonly lines: readonly StatementLine[];
  /** Charges priced as fixed fees: projected as they are, not scaled. */
  readonly fixedCharges: ReadonlySet<string>;
  /** The period's length over its elapsed part. */
  readonly scale: string;
  /** The commitment for the covered share of the period, below which the projection never falls. */
  readonly floor: string;
}

export interface Forecast {
  /** Rounded once, half-up, to the currency's minor unit, like every other amount. */
  readonly subtotal: string;
  /** The projection to 9 decimal places. */
  readonly preciseSubtotal: string;
}

/**
 * The run-rate projection of the period-end subtotal: usage lines scaled from the elapsed part of
 * the period to all of it, fixed fees as they are, the commitment true-up left out and the
 * commitment as the floor. The precise lines are projected, so rounding happens once, at the end.
 */
export function forecastSubtotal(input: ForecastInput): Forecast {
  let projected = ZERO;
  for (const line of input.lines) {
    if (line.charge === 'minimum-commitment') continue;
    const amount = new D(line.preciseAmount);
    projected = projected.plus(input.fixedCharges.has(line.charge) ? amount : amount.times(input.scale));
  }
  const precise = format(D.max(projected, input.floor).toDecimalPlaces(9));
  return { subtotal: roundToMinorUnit(precise, input.currency), preciseSubtotal: precise };
}
