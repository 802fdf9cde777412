import { DateTime } from 'luxon';
import {
  selectedBillingPeriod,
  type BillingPeriod,
  type Catalog,
  type Customer,
  type Meter,
} from '../catalog/index.js';
import type { Store } from '../platform/store.js';
import { D, format, ZERO } from '../platform/money.js';
import type { PlansContracts } from './plans-contracts.js';
import { buildRatedCharges } from './rated-charges.js';
import type { ChargeInput as PlanCharge, ContractVersion, PlanVersion, RatedSnapshot } from './schemas.js';
import { batchedUsageSource, directUsageSource, recordingUsageSource, usageUntil, type Span, type UsageSource } from './usage-source.js';
import { RatingFailedError, ratingFailureOf, type RatingFailure } from './rating-failure.js';
import {
  buildStatement,
  ChargePriceError,
  forecastSubtotal,
  unpricedSpans,
  type ChargeInput,
  type DiscountInput,
  type PriceSegment,
  type Statement,
  type UnpricedReason,
} from './statement.js';

const MINUTE = 60_000;
const floorMinute = (ms: number) => Math.floor(ms / MINUTE) * MINUTE;

export interface ChargesDeps {
  readonly store: Store;
  readonly catalog: Pick<Catalog, 'getCustomer' | 'listMeters' | 'listCustomers'>;
  readonly plans: PlansContracts;
  readonly now?: () => number;
  /** The rater's latest figure for a customer while nothing changed since, if this process rates. */
  readonly cached?: (tenantId: string, customerId: string, subjects: readonly string[], asOf: number) => Charges | undefined;
}

/** Usage of one meter over one span that no charge prices: shown, never priced as nothing. */
export interface UnpricedUsage {
  readonly meter: string;
  readonly from: string;
  readonly to: string;
  readonly quantity: string;
  readonly reason: UnpricedReason;
}

/** What a bulk rating produced: the customers rated and those that could not be. */
export interface RatingOutcome {
  readonly rated: Charges[];
  readonly failed: RatingFailure[];
}

export interface Charges extends Statement {
  readonly customerId: string;
  readonly periodStart: string;
  readonly periodEnd: string;
  readonly asOf: string;
  /** null: the customer has no contract, so nothing is priced and all its usage is unpriced. */
  readonly contractVersion: number | null;
  readonly plan: string | null;
  readonly contract: { readonly version: number; readonly plan: string; readonly startsAt: string; readonly endsAt?: string } | null;
  /** Usage in the period that no charge prices, per meter and span. */
  readonly unpriced: UnpricedUsage[];
  /** Run rate: usage lines scaled from the elapsed part of the period to all of it, fixed fees as they are. */
  readonly forecast?: { readonly subtotal: string; readonly preciseSubtotal: string; readonly method: string };
}

interface PeriodFacts {
  readonly billing: BillingPeriod;
  /** Local calendar days in the period: the denominator of daily proration. */
  readonly periodDays: number;
}

/**
 * The billing period and its day count. Customers rated together mostly share a time zone and
 * anchor day, and time-zone arithmetic is the costliest part of rating them, so it is memoised.
 */
function periodOf(customer: Customer, period: string, asOf: number, memo?: Map<string, PeriodFacts>): PeriodFacts {
  const key = `${customer.timezone}|${customer.billingAnchorDay}|${period}|${asOf}`;
  const known = memo?.get(key);
  if (known) return known;
  const billing = selectedBillingPeriod(period, new Date(asOf), customer.timezone, customer.billingAnchorDay);
  const periodDays = Math.round(
    DateTime.fromJSDate(billing.end, { zone: customer.timezone })
      .startOf('day')
      .diff(DateTime.fromJSDate(billing.start, { zone: customer.timezone }).startOf('day'), 'days').days,
  );
  const facts = { billing, periodDays };
  memo?.set(key, facts);
  return facts;
}

interface RatingContext {
  readonly tenantId: string;
  readonly customer: Customer;
  /** Absent: the customer has no contract (then no versions either). */
  readonly contract: ContractVersion | undefined;
  readonly versions: readonly PlanVersion[];
  readonly meters: ReadonlyMap<string, Meter>;
  readonly period: 'current' | string;
  readonly asOf: number;
  /** Shared by the customers of one bulk rating. */
  readonly periods?: Map<string, PeriodFacts>;
}

function overlap(a: Span, b: Span): number {
  return Math.max(0, Math.min(a.to, b.to) - Math.max(a.from, b.from));
}

function ratio(part: number, whole: number): string {
  return whole <= 0 ? '0' : format(new D(part).div(whole));
}

/**
 * Price segments of the active span: one per plan version in force, cut at each effectiveFrom.
 * The first version has no start: it is in force from the beginning, so usage metered before a
 * plan was posted is priced by it rather than by nothing.
 */
function versionSpans(versions: readonly PlanVersion[], active: Span): Array<Span & { version: PlanVersion }> {
  const spans: Array<Span & { version: PlanVersion }> = [];
  versions.forEach((version, index) => {
    const from = index === 0 ? Number.NEGATIVE_INFINITY : floorMinute(Date.parse(version.effectiveFrom));
    const next = versions[index + 1];
    const to = next ? floorMinute(Date.parse(next.effectiveFrom)) : Number.POSITIVE_INFINITY;
    const clipped = { from: Math.max(from, active.from), to: Math.min(to, active.to) };
    if (clipped.to > clipped.from) spans.push({ ...clipped, version });
  });
  return spans;
}

/** The charges of a customer's billing period, computed from the rollups on request. */
export function buildCharges({ store, catalog, plans, now = Date.now, cached }: ChargesDeps) {
  const ratedCharges = buildRatedCharges({ store });
  return {
    /** The figures the rater stored for this customer, newest first. */
    async history(tenantId: string, customerId: string): Promise<RatedSnapshot[]> {
      await catalog.getCustomer(tenantId, customerId);
      return ratedCharges.history(tenantId, customerId);
    },

    async forCustomer(tenantId: string, customerId: string, period: 'current' | string): Promise<Charges> {
      const customer = await catalog.getCustomer(tenantId, customerId);
      const asOf = now();
      if (period === 'current') {
        const known = cached?.(tenantId, customerId, customer.subjects, asOf);
        if (known) return known;
      }
      const { contract, versions } = await termsOf(tenantId, customerId);
      const meters = new Map((await catalog.listMeters(tenantId)).map((meter) => [meter.key, meter]));
      return compute({ tenantId, customer, contract, versions, meters, period, asOf }, directUsageSource(store));
    },

    /**
     * The charges of the period containing `at`, counting usage only before `until` (a whole
     * minute, not after `at`): the figures as they stood then. Fixed fees count in full, so the
     * difference of two such figures is the cost of the usage between them.
     */
    async forCustomerUntil(tenantId: string, customerId: string, at: number, until: number): Promise<Charges> {
      const customer = await catalog.getCustomer(tenantId, customerId);
      const { contract, versions } = await termsOf(tenantId, customerId);
      const meters = new Map((await catalog.listMeters(tenantId)).map((meter) => [meter.key, meter]));
      return compute({ tenantId, customer, contract, versions, meters, period: 'current', asOf: at }, usageUntil(directUsageSource(store), until));
    },

    /**
     * The current charges of many customers at once (the rater's path): a first pass records
     * which usage each needs, a few grouped queries fetch it, a second pass prices it. Customers
     * without a contract are rated too: their usage is all unpriced, which the figures show.
     */
    async forCustomers(tenantId: string, customerIds: readonly string[]): Promise<Charges[]> {
      const { rated, failed } = await rateCustomers(tenantId, customerIds);
      const [first] = failed;
      if (first) throw new Error(`rating customer ${first.customerId} failed: ${first.reason}`);
      return rated;
    },

    /**
     * forCustomers for the rater: one customer whose usage or terms cannot be priced is listed
     * among the failures, and the others are rated all the same.
     */
    rateCustomers,
  };

  async function rateCustomers(tenantId: string, customerIds: readonly string[]): Promise<RatingOutcome> {
      const wanted = new Set(customerIds);
      const customers = (await catalog.listCustomers(tenantId)).filter((customer) => wanted.has(customer.id));
      const contracts = await plans.currentContracts(tenantId);
      const versionsByPlan = await plans.allPlanVersions(tenantId);
      const meters = new Map((await catalog.listMeters(tenantId)).map((meter) => [meter.key, meter]));
      const asOf = now();
      const periods = new Map<string, PeriodFacts>();
      const contexts = customers.flatMap((customer) => {
        const contract = contracts.get(customer.id);
        const versions = contract ? versionsByPlan.get(contract.terms.plan) : [];
        return versions ? [{ tenantId, customer, contract, versions, meters, period: 'current', asOf, periods }] : [];
      });
      const recorder = recordingUsageSource();
      const failed: RatingFailure[] = [];
      const gathered: RatingContext[] = [];
      for (const context of contexts) {
        try {
          await compute(context, recorder, false);
          gathered.push(context);
        } catch (error) {
          failed.push(ratingFailureOf(context.customer.id, error));
        }
      }
      const source = await batchedUsageSource(store, tenantId, recorder.requests);
      const rated: Charges[] = [];
      for (const context of gathered) {
        try {
          rated.push(await compute(context, source));
        } catch (error) {
          failed.push(ratingFailureOf(context.customer.id, error));
        }
      }
      return { rated, failed };
  }

  /** The customer's current contract and its plan's versions; none of either without a contract. */
  async function termsOf(tenantId: string, customerId: string): Promise<{ contract: ContractVersion | undefined; versions: PlanVersion[] }> {
    const contract = (await plans.contractHistory(tenantId, customerId)).at(-1);
    return { contract, versions: contract ? await plans.planVersions(tenantId, contract.terms.plan) : [] };
  }

  /** Gathers a customer's inputs through `usage` and prices them; with price false it only gathers (the recording pass). */
  async function compute(context: RatingContext, usage: UsageSource, price: false): Promise<undefined>;
  async function compute(context: RatingContext, usage: UsageSource, price?: true): Promise<Charges>;
  async function compute(context: RatingContext, usage: UsageSource, price = true): Promise<Charges | undefined> {
      const { tenantId, customer, contract, versions, meters, period, asOf } = context;
      const customerId = customer.id;
      const { billing, periodDays } = periodOf(customer, period, asOf, context.periods);
      const periodSpan = { from: billing.start.getTime(), to: billing.end.getTime() };
      const terms = contract?.terms;
      const contractSpan = terms
        ? { from: floorMinute(Date.parse(terms.startsAt)), to: terms.endsAt ? floorMinute(Date.parse(terms.endsAt)) : Number.POSITIVE_INFINITY }
        : undefined;
      const active = contractSpan
        ? { from: Math.max(periodSpan.from, contractSpan.from), to: Math.min(periodSpan.to, contractSpan.to) }
        : { from: periodSpan.from, to: periodSpan.from };
      const periodLength = periodSpan.to - periodSpan.from;
      const activeLength = Math.max(0, active.to - active.from);
      const spans = activeLength > 0 ? versionSpans(versions, active) : [];
      const subjects = customer.subjects;
      // Charges in the order the newest version lists them, then any only older versions had.
      const chargeOrder: string[] = [];
      for (const span of [...spans].reverse()) {
        for (const charge of span.version.charges) if (!chargeOrder.includes(charge.key)) chargeOrder.push(charge.key);
      }

      const chargeInputs: ChargeInput[] = [];
      const chargeDefs = new Map<string, PlanCharge>();
      for (const key of chargeOrder) {
        const segments: PriceSegment[] = [];
        for (const span of spans) {
          const charge = span.version.charges.find((candidate) => candidate.key === key);
          if (!charge) continue;
          chargeDefs.set(key, charge);
          const price = terms?.overrides[key] ?? charge.price;
          const base = { from: new Date(span.from), to: new Date(span.to), priceVersion: span.version.version, price };
          if (price.model === 'flat') {
            segments.push({ ...base, quantity: ratio(span.to - span.from, periodLength) });
            continue;
          }
          const meter = charge.meter !== undefined ? meters.get(charge.meter) : undefined;
          if (!meter) throw new RatingFailedError(`charge ${key} meters ${charge.meter ?? 'nothing'}, which does not exist`, 'terms', `charges.${key}`);
          if (price.model === 'percentage') {
            segments.push({ ...base, events: await usage.events(tenantId, meter, subjects, span) });
          } else if (charge.proration === 'daily') {
            const maxima = new D(await usage.dailyMaxSum(tenantId, meter, subjects, span, customer.timezone));
            segments.push({ ...base, quantity: format(periodDays > 0 ? maxima.div(periodDays) : ZERO) });
          } else {
            segments.push({ ...base, quantity: await usage.total(tenantId, meter, subjects, span) });
          }
        }
        chargeInputs.push({ key, ...(chargeDefs.get(key)?.category ? { category: chargeDefs.get(key)?.category as string } : {}), segments });
      }

      const discounts: DiscountInput[] = [];
      for (const discount of terms?.discounts ?? []) {
        const window = {
          from: discount.validFrom ? floorMinute(Date.parse(discount.validFrom)) : Number.NEGATIVE_INFINITY,
          to: discount.validTo ? floorMinute(Date.parse(discount.validTo)) : Number.POSITIVE_INFINITY,
        };
        const inside = { from: Math.max(window.from, active.from), to: Math.min(window.to, active.to) };
        const shareByCharge: Record<string, string> = {};
        for (const key of chargeOrder) {
          if (discount.chargeKey !== undefined && discount.chargeKey !== key) continue;
          const charge = chargeDefs.get(key);
          const meter = charge?.meter !== undefined ? meters.get(charge.meter) : undefined;
          const additive = meter !== undefined && (meter.aggregation === 'SUM' || meter.aggregation === 'COUNT') && charge?.proration !== 'daily';
          if (inside.to <= inside.from) {
            shareByCharge[key] = '0';
          } else if (window.from <= active.from && window.to >= active.to) {
            shareByCharge[key] = '1';
          } else if (additive && meter) {
            // Usage that adds up: the share of the quantity used inside the discount's validity.
            const part = new D(await usage.total(tenantId, meter, subjects, inside));
            const whole = new D(await usage.total(tenantId, meter, subjects, active));
            shareByCharge[key] = whole.isZero() ? '0' : format(part.div(whole));
          } else {
            // Fixed fees and gauges: the share of the covered time.
            shareByCharge[key] = ratio(overlap(inside, active), activeLength);
          }
        }
        discounts.push({
          ...(discount.chargeKey !== undefined ? { chargeKey: discount.chargeKey } : {}),
          ...(discount.percent !== undefined ? { percent: discount.percent } : {}),
          ...(discount.amount !== undefined ? { amount: discount.amount } : {}),
          shareByCharge,
        });
      }

      // Every meter's usage that no charge prices: outside the contract, or inside it where no
      // version in force has a charge on the meter.
      const unpriced: UnpricedUsage[] = [];
      for (const meter of [...meters.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))) {
        const priced = spans.filter((span) => span.version.charges.some((charge) => charge.meter === meter.key && charge.price.model !== 'flat'));
        for (const gap of unpricedSpans(periodSpan, contractSpan, priced)) {
          const quantity = await usage.total(tenantId, meter, subjects, gap);
          if (new D(quantity).isZero()) continue;
          unpriced.push({ meter: meter.key, from: new Date(gap.from).toISOString(), to: new Date(gap.to).toISOString(), quantity, reason: gap.reason });
        }
      }

      if (!price) return undefined;
      const currency = versions.at(-1)?.currency ?? customer.currency;
      const statement = explainFailure(() =>
        buildStatement({
          currency,
          charges: chargeInputs,
          discounts,
          taxRates: terms?.taxRates ?? [],
          ...(terms?.minimumCommitment !== undefined ? { minimumCommitment: terms.minimumCommitment } : {}),
          coveredFraction: ratio(activeLength, periodLength),
        }),
      );

      let forecast: Charges['forecast'];
      const elapsed = Math.min(asOf, periodSpan.to) - periodSpan.from;
      if (asOf < periodSpan.to && elapsed > 0) {
        const fixedCharges = new Set([...chargeDefs].filter(([, charge]) => charge.price.model === 'flat').map(([key]) => key));
        const floor = terms?.minimumCommitment !== undefined ? new D(terms.minimumCommitment).times(ratio(activeLength, periodLength)) : ZERO;
        const projected = forecastSubtotal({ currency, lines: statement.lines, fixedCharges, scale: format(new D(periodLength).div(elapsed)), floor: format(floor) });
        forecast = { ...projected, method: 'run rate since the period started' };
      }

      return {
        ...statement,
        customerId,
        periodStart: billing.start.toISOString(),
        periodEnd: billing.end.toISOString(),
        asOf: new Date(asOf).toISOString(),
        contractVersion: contract?.version ?? null,
        plan: terms?.plan ?? null,
        contract:
          contract && terms
            ? { version: contract.version, plan: terms.plan, startsAt: terms.startsAt, ...(terms.endsAt !== undefined ? { endsAt: terms.endsAt } : {}) }
            : null,
        unpriced,
        ...(forecast ? { forecast } : {}),
      };
  }
}

/** Every pricing error of a statement becomes a RatingFailedError that says where it is. */
function explainFailure<T>(build: () => T): T {
  try {
    return build();
  } catch (error) {
    if (error instanceof ChargePriceError) throw new RatingFailedError(error.message, 'price', `charges.${error.charge}`, { cause: error });
    if (error instanceof RangeError) throw new RatingFailedError(error.message, 'price', 'contract', { cause: error });
    throw error;
  }
}

export type ChargesService = ReturnType<typeof buildCharges>;
