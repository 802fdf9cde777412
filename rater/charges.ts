import { DateTime } from 'luxon';
import { z } from 'zod';
import { queryMeterTotals, queryMeterUsage } from '../aggregator/index.js';
import { billingPeriodContaining, billingPeriodForDate, type BillingPeriod, type Catalog, type Meter } from '../catalog/index.js';
import { InvalidRequestError } from '../platform/errors.js';
import { defineQuery, type Store } from '../platform/store.js';
import { toClickHouseTime } from '../platform/time.js';
import { D, format, ZERO } from './pricing/decimal.js';
import type { PlansContracts } from './plans-contracts.js';
import { ratedSnapshots, type RatedSnapshot } from './rating-loop.js';
import type { ChargeInput as PlanCharge, PlanVersion } from './schemas.js';
import { buildStatement, type ChargeInput, type DiscountInput, type PriceSegment, type Statement } from './statement.js';

const MINUTE = 60_000;
const floorMinute = (ms: number) => Math.floor(ms / MINUTE) * MINUTE;

const eventValues = defineQuery({
  name: 'rater.eventValues',
  sql: (t) => `SELECT toString(value) AS value FROM ${t('events')}
    WHERE tenant_id = {tenantId:String} AND meter_key = {meterKey:String} AND subject IN {subjects:Array(String)}
      AND time >= {from:DateTime64(3, 'UTC')} AND time < {to:DateTime64(3, 'UTC')}
    ORDER BY time, event_id`,
  params: z.object({ tenantId: z.string(), meterKey: z.string(), subjects: z.array(z.string()), from: z.string(), to: z.string() }),
  row: z.object({ value: z.string() }),
});

export interface ChargesDeps {
  readonly store: Store;
  readonly catalog: Pick<Catalog, 'getCustomer' | 'listMeters'>;
  readonly plans: PlansContracts;
  readonly now?: () => number;
}

export interface Charges extends Statement {
  readonly customerId: string;
  readonly periodStart: string;
  readonly periodEnd: string;
  readonly asOf: string;
  readonly contractVersion: number;
  readonly plan: string;
  /** Run rate: usage lines scaled from the elapsed part of the period to all of it, fixed fees as they are. */
  readonly forecast?: { readonly subtotal: string; readonly method: string };
}

interface Span {
  readonly from: number;
  readonly to: number;
}

function overlap(a: Span, b: Span): number {
  return Math.max(0, Math.min(a.to, b.to) - Math.max(a.from, b.from));
}

function ratio(part: number, whole: number): string {
  return whole <= 0 ? '0' : format(new D(part).div(whole));
}

/** Price segments of the active span: one per plan version in force, cut at each effectiveFrom. */
function versionSpans(versions: readonly PlanVersion[], active: Span): Array<Span & { version: PlanVersion }> {
  const spans: Array<Span & { version: PlanVersion }> = [];
  versions.forEach((version, index) => {
    const from = floorMinute(Date.parse(version.effectiveFrom));
    const next = versions[index + 1];
    const to = next ? floorMinute(Date.parse(next.effectiveFrom)) : Number.POSITIVE_INFINITY;
    const clipped = { from: Math.max(from, active.from), to: Math.min(to, active.to) };
    if (clipped.to > clipped.from) spans.push({ ...clipped, version });
  });
  return spans;
}

/** The charges of a customer's billing period, computed from the rollups on request. */
export function buildCharges({ store, catalog, plans, now = Date.now }: ChargesDeps) {
  async function quantity(tenantId: string, meter: Meter, subjects: readonly string[], span: Span): Promise<string> {
    const [total] = await queryMeterTotals(store, tenantId, [meter], subjects, new Date(span.from), new Date(span.to));
    return total?.value ?? '0';
  }

  /** Sum of each local day's maximum within the span (days with no reading count 0). */
  async function dailyMaxima(tenantId: string, meter: Meter, subjects: readonly string[], span: Span, timeZone: string) {
    const rows = await queryMeterUsage(store, {
      tenantId,
      meter: { key: meter.key, aggregation: 'MAX', groupBy: {} },
      from: new Date(span.from),
      to: new Date(span.to),
      subjects,
      windowSize: 'DAY',
      windowTimeZone: timeZone,
      groupBy: [],
      bySubject: false,
    });
    return rows.reduce((sum, row) => sum.plus(row.value), ZERO);
  }

  return {
    /** The figures the rater stored for this customer, newest first. */
    async history(tenantId: string, customerId: string): Promise<RatedSnapshot[]> {
      await catalog.getCustomer(tenantId, customerId);
      return ratedSnapshots(store, tenantId, customerId);
    },

    async forCustomer(tenantId: string, customerId: string, period: 'current' | string): Promise<Charges> {
      const customer = await catalog.getCustomer(tenantId, customerId);
      const contract = await plans.currentContract(tenantId, customerId);
      const asOf = now();
      let billing: BillingPeriod;
      try {
        billing =
          period === 'current'
            ? billingPeriodContaining(new Date(asOf), customer.timezone, customer.billingAnchorDay)
            : billingPeriodForDate(period, customer.timezone, customer.billingAnchorDay);
      } catch (error) {
        throw new InvalidRequestError(error instanceof Error ? error.message : 'invalid period', 'period');
      }
      const periodSpan = { from: billing.start.getTime(), to: billing.end.getTime() };
      const terms = contract.terms;
      const active = {
        from: Math.max(periodSpan.from, floorMinute(Date.parse(terms.startsAt))),
        to: Math.min(periodSpan.to, terms.endsAt ? floorMinute(Date.parse(terms.endsAt)) : Number.POSITIVE_INFINITY),
      };
      const periodLength = periodSpan.to - periodSpan.from;
      const activeLength = Math.max(0, active.to - active.from);
      const versions = await plans.planVersions(tenantId, terms.plan);
      const spans = activeLength > 0 ? versionSpans(versions, active) : [];
      const meters = new Map((await catalog.listMeters(tenantId)).map((meter) => [meter.key, meter]));
      const subjects = customer.subjects;
      const periodDays = Math.round(
        DateTime.fromJSDate(billing.end, { zone: customer.timezone })
          .startOf('day')
          .diff(DateTime.fromJSDate(billing.start, { zone: customer.timezone }).startOf('day'), 'days').days,
      );

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
          const price = terms.overrides[key] ?? charge.price;
          const base = { from: new Date(span.from), to: new Date(span.to), priceVersion: span.version.version, price };
          if (price.model === 'flat') {
            segments.push({ ...base, quantity: ratio(span.to - span.from, periodLength) });
            continue;
          }
          const meter = charge.meter !== undefined ? meters.get(charge.meter) : undefined;
          if (!meter) throw new InvalidRequestError(`charge ${key} meters ${charge.meter ?? 'nothing'}, which does not exist`, 'plan');
          if (price.model === 'percentage') {
            const rows = await eventValues(store, {
              tenantId,
              meterKey: meter.key,
              subjects,
              from: toClickHouseTime(new Date(span.from)),
              to: toClickHouseTime(new Date(span.to)),
            });
            segments.push({ ...base, events: rows.map((row) => row.value) });
          } else if (charge.proration === 'daily') {
            const maxima = await dailyMaxima(tenantId, meter, subjects, span, customer.timezone);
            segments.push({ ...base, quantity: format(periodDays > 0 ? maxima.div(periodDays) : ZERO) });
          } else {
            segments.push({ ...base, quantity: await quantity(tenantId, meter, subjects, span) });
          }
        }
        chargeInputs.push({ key, ...(chargeDefs.get(key)?.category ? { category: chargeDefs.get(key)?.category as string } : {}), segments });
      }

      const discounts: DiscountInput[] = [];
      for (const discount of terms.discounts) {
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
            const part = new D(await quantity(tenantId, meter, subjects, inside));
            const whole = new D(await quantity(tenantId, meter, subjects, active));
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

      const currency = versions.at(-1)?.currency ?? customer.currency;
      const statement = buildStatement({
        currency,
        charges: chargeInputs,
        discounts,
        taxRates: terms.taxRates,
        ...(terms.minimumCommitment !== undefined ? { minimumCommitment: terms.minimumCommitment } : {}),
        coveredFraction: ratio(activeLength, periodLength),
      });

      let forecast: Charges['forecast'];
      const elapsed = Math.min(asOf, periodSpan.to) - periodSpan.from;
      if (asOf < periodSpan.to && elapsed > 0) {
        const scale = new D(periodLength).div(elapsed);
        let projected = ZERO;
        for (const line of statement.lines) {
          const fixed = line.charge === 'minimum-commitment' || chargeDefs.get(line.charge)?.price.model === 'flat';
          if (line.charge === 'minimum-commitment') continue;
          projected = projected.plus(fixed ? new D(line.preciseAmount) : new D(line.preciseAmount).times(scale));
        }
        const floor = terms.minimumCommitment !== undefined ? new D(terms.minimumCommitment).times(ratio(activeLength, periodLength)) : ZERO;
        forecast = { subtotal: format(D.max(projected, floor).toDecimalPlaces(9)), method: 'run rate since the period started' };
      }

      return {
        ...statement,
        customerId,
        periodStart: billing.start.toISOString(),
        periodEnd: billing.end.toISOString(),
        asOf: new Date(asOf).toISOString(),
        contractVersion: contract.version,
        plan: terms.plan,
        ...(forecast ? { forecast } : {}),
      };
    },
  };
}

export type ChargesService = ReturnType<typeof buildCharges>;
