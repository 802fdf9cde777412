import { queryMeterTotals } from '../aggregator/usage.js';
import type { Catalog, Customer, Meter } from '../catalog/index.js';
import type { Logger } from '../platform/logger.js';
import type { Metrics } from '../platform/metrics.js';
import { D, format, type Decimal } from '../platform/money.js';
import type { Store } from '../platform/store.js';
import { durationMs } from '../platform/time.js';
import { buildRatedCharges, roundToMinorUnit, type Charges, type ChargesService, type PlansContracts, type RatedFigure } from '../rater/index.js';
import { derivedId, messageIdOf, type AlertDetails, type AlertRecord, type AlertStore, type DeliveryRecord, type MessageType } from './alert-store.js';
import { forecastPeriodEnd } from './detectors/budget.js';
import { detectSpike, topDrivers, type Driver, type KeyedCost } from './detectors/spike.js';
import { decideBudget, decideForecast, decideSpike, decideThresholds, enterPeriod, type Decision, type RuleState } from './decide.js';
import { ALERT_KINDS } from './rule-schema.js';
import { effectiveRules, type AlertRule, type AlertRules } from './rules.js';
import type { WebhookEndpoints } from './webhook-endpoints.js';

const MINUTE = 60_000;
const DAY = 86_400_000;
/** Figures can become visible a little after the instant they were stamped with; each cycle looks back this far again. */
const OVERLAP_MS = 10_000;
/** Past windows of a spike baseline barely change; their costs are reused for this long. */
const BASELINE_TTL_MS = 10 * MINUTE;
const COMMITMENT_LINE = 'minimum-commitment';

export interface AlertEngineDeps {
  readonly store: Store;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly catalog: Pick<Catalog, 'listCustomers' | 'listMeters' | 'operationsEmail'>;
  readonly plans: Pick<PlansContracts, 'planVersions'>;
  readonly charges: Pick<ChargesService, 'forCustomerUntil'>;
  readonly rules: Pick<AlertRules, 'list'>;
  readonly endpoints: Pick<WebhookEndpoints, 'list'>;
  readonly alertStore: AlertStore;
  readonly publicUrl: string;
  readonly intervalMs: number;
  /** Called after new deliveries were recorded: the outbox sends them now rather than at its next poll. */
  readonly onDeliveries?: () => void;
  readonly now?: () => number;
}

interface Evaluated {
  readonly state: RuleState;
  readonly newAlerts: AlertRecord[];
  readonly resolved: Array<{ alertId: string; resolution: string; notify: boolean }>;
}

/** Per-charge costs of a window: the usage part of each line between two figures. */
type ChargeCosts = Map<string, Decimal>;

function usageLines(charges: Charges): Map<string, Decimal> {
  return new Map(charges.lines.filter((line) => line.charge !== COMMITMENT_LINE).map((line) => [line.charge, new D(line.preciseAmount)]));
}

function difference(after: Charges, before: Charges): ChargeCosts {
  const earlier = usageLines(before);
  const costs: ChargeCosts = new Map();
  for (const [charge, amount] of usageLines(after)) costs.set(charge, amount.minus(earlier.get(charge) ?? 0));
  return costs;
}

function sumOf(costs: ChargeCosts): Decimal {
  let total = new D(0);
  for (const cost of costs.values()) total = total.plus(cost);
  return total;
}

const money = (value: Decimal) => format(value.toDecimalPlaces(9));

/**
 * Evaluates alert rules on every newly rated figure (the rater's stored figures, so it
 * works in the rater's process or its own), records alerts and their deliveries in the outbox,
 * then the state: a crash in between repeats the same decision onto the same ids.
 */
export function buildAlertEngine(deps: AlertEngineDeps) {
  const { store, log, metrics, alertStore, now = Date.now } = deps;
  const ratedCharges = buildRatedCharges({ store });
  let watermark: number | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let stopped = true;
  const baselines = new Map<string, { at: number; costs: ChargeCosts }>();
  /**
   * tenant → customers with a rule whose evaluation failed on their latest figure. The watermark
   * moves past that figure, so without this the rule would wait for the customer's next rating.
   */
  const retry = new Map<string, Set<string>>();

  async function cycle(): Promise<void> {
    const started = performance.now();
    const since = watermark === undefined ? 0 : Math.max(0, watermark - OVERLAP_MS);
    const rows = await ratedCharges.latestSince(since);
    const byTenant = new Map<string, RatedFigure[]>();
    for (const row of rows) byTenant.set(row.tenantId, [...(byTenant.get(row.tenantId) ?? []), row]);
    for (const [tenantId, customers] of retry) {
      const known = new Set((byTenant.get(tenantId) ?? []).map((row) => row.customerId));
      const missing = [...customers].filter((customerId) => !known.has(customerId));
      if (missing.length === 0) continue;
      const again = await ratedCharges.latest(tenantId, missing);
      byTenant.set(tenantId, [...(byTenant.get(tenantId) ?? []), ...again]);
    }
    let newest = watermark ?? 0;
    let failed = false;
    for (const [tenantId, figures] of byTenant) {
      try {
        const failing = await evaluateTenant(tenantId, figures);
        const pending = retry.get(tenantId) ?? new Set<string>();
        for (const figure of figures) pending.delete(figure.customerId);
        for (const customerId of failing) pending.add(customerId);
        if (pending.size > 0) retry.set(tenantId, pending);
        else retry.delete(tenantId);
      } catch (error) {
        failed = true;
        metrics.alertEvaluationFailures.inc(figures.length);
        log.warn({ err: error, tenantId }, 'alert evaluation failed; retrying next cycle');
      }
    }
    for (const row of rows) newest = Math.max(newest, Date.parse(row.ratedAt));
    // A failed tenant is looked at again: its figures stay after the watermark.
    if (!failed) watermark = newest;
    else watermark ??= 0;
    // Every kind is set, so a kind whose last alert resolved drops to 0 rather than keeping its old count.
    const firing = await alertStore.firingByKind();
    for (const kind of ALERT_KINDS) metrics.alertsFiring.labels(kind).set(firing.get(kind) ?? 0);
    metrics.alertsEvaluationDuration.observe((performance.now() - started) / 1000);
  }

  /** Evaluates the tenant's rules on these figures; answers the customers for which a rule failed. */
  async function evaluateTenant(tenantId: string, figures: readonly RatedFigure[]): Promise<Set<string>> {
    const failing = new Set<string>();
    const rules = await deps.rules.list(tenantId);
    if (rules.length === 0) return failing;
    const states = await alertStore.loadStates(tenantId, figures.map((f) => f.customerId));
    const meters = new Map((await deps.catalog.listMeters(tenantId)).map((meter) => [meter.key, meter]));
    const chargeMeters = new Map<string, Map<string, string>>();
    const endpoints = await deps.endpoints.list(tenantId);
    const operations = await deps.catalog.operationsEmail(tenantId);
    const customers = new Map((await deps.catalog.listCustomers(tenantId)).map((customer) => [customer.id, customer]));
    const newAlerts: AlertRecord[] = [];
    const firedDeliveries: DeliveryRecord[] = [];
    const changed: AlertRecord[] = [];
    const resolvedDeliveries: DeliveryRecord[] = [];
    const stateRows: Array<{ ruleId: string; customerId: string; state: RuleState }> = [];

    for (const figure of figures) {
      const applicable = effectiveRules(rules, figure.customerId);
      if (applicable.length === 0) continue;
      const customer = customers.get(figure.customerId);
      if (!customer) continue;
      let charges: Charges;
      try {
        charges = figure.statement();
      } catch (error) {
        // A stored figure that does not read back is this customer's failure: the tenant's other
        // customers are evaluated, and this one is read again next cycle.
        failing.add(customer.id);
        metrics.alertEvaluationFailures.inc();
        log.error({ err: error, tenantId, customerId: customer.id }, 'stored figure does not match the charges schema; its rules are not evaluated');
        continue;
      }
      const ratedAt = figure.ratedAt;
      // A customer without a contract has no plan and no charges: only its usage can be watched.
      const plan = charges.plan;
      if (plan !== null && !chargeMeters.has(plan)) {
        const map = new Map<string, string>();
        for (const version of await deps.plans.planVersions(tenantId, plan)) {
          for (const charge of version.charges) if (charge.meter !== undefined) map.set(charge.key, charge.meter);
        }
        chargeMeters.set(plan, map);
      }
      const context: RuleContext = { tenantId, customer, charges, meters, chargeMeters: (plan !== null ? chargeMeters.get(plan) : undefined) ?? new Map() };
      for (const rule of applicable) {
        const prior = states.get(`${rule.id}\u0000${customer.id}`) as RuleState | undefined;
        if (prior && prior.ratedAt >= ratedAt) continue;
        let outcome: Evaluated;
        try {
          outcome = await evaluateRule(rule, context, prior, ratedAt);
        } catch (error) {
          // One broken rule must not hold back the others; its state stays, and the customer's
          // latest figure is read again next cycle, so the rule is evaluated again without new events.
          failing.add(customer.id);
          metrics.alertEvaluationFailures.inc();
          log.warn({ err: error, tenantId, ruleId: rule.id, customerId: customer.id }, 'alert rule evaluation failed');
          continue;
        }
        stateRows.push({ ruleId: rule.id, customerId: customer.id, state: outcome.state });
        for (const alert of outcome.newAlerts) {
          newAlerts.push(alert);
          firedDeliveries.push(...deliveriesFor(alert, 'alert.fired', rule, customer, endpoints, operations));
          metrics.alertTransitions.labels(rule.kind, 'fired').inc();
        }
        if (outcome.resolved.length > 0) {
          const existing = new Map((await alertStore.byIds(tenantId, outcome.resolved.map((r) => r.alertId))).map((a) => [a.id, a]));
          for (const resolution of outcome.resolved) {
            const alert = existing.get(resolution.alertId);
            if (!alert || alert.status === 'resolved') continue;
            const resolved: AlertRecord = { ...alert, status: 'resolved', resolvedAt: new Date(now()).toISOString(), resolution: resolution.resolution };
            changed.push(resolved);
            metrics.alertTransitions.labels(rule.kind, 'resolved').inc();
            if (resolution.notify && alert.acknowledgedAt === undefined) {
              resolvedDeliveries.push(...deliveriesFor(resolved, 'alert.resolved', rule, customer, endpoints, operations));
            }
          }
        }
      }
    }
    // Alerts and their deliveries first, the state after: a crash between them repeats the same decision onto the same ids.
    if (newAlerts.length > 0) await alertStore.recordNew(newAlerts, firedDeliveries);
    if (changed.length > 0) await alertStore.recordChanges(changed, resolvedDeliveries);
    if (stateRows.length > 0) await alertStore.saveStates(tenantId, stateRows);
    if (firedDeliveries.length + resolvedDeliveries.length > 0) deps.onDeliveries?.();
    return failing;
  }

  interface RuleContext {
    readonly tenantId: string;
    readonly customer: Customer;
    readonly charges: Charges;
    readonly meters: ReadonlyMap<string, Meter>;
    readonly chargeMeters: ReadonlyMap<string, string>;
  }

  /** The spend a rule watches: one charge, the charges of one meter, or the subtotal. */
  function spendOf(rule: AlertRule, context: RuleContext): { value: string; measure: string } {
    const spec = rule.spec;
    const chargeKey = 'chargeKey' in spec ? spec.chargeKey : undefined;
    const meter = spec.kind !== 'usage_threshold' && 'meter' in spec ? spec.meter : undefined;
    if (chargeKey !== undefined) {
      const line = context.charges.lines.find((l) => l.charge === chargeKey);
      return { value: line?.amount ?? '0', measure: `charge ${chargeKey}` };
    }
    if (meter !== undefined) {
      let total = new D(0);
      for (const line of context.charges.lines) if (context.chargeMeters.get(line.charge) === meter) total = total.plus(line.amount);
      // A sum of rounded line amounts: shown like them, in the currency's minor unit.
      return { value: roundToMinorUnit(format(total), context.charges.currency), measure: `charges of meter ${meter}` };
    }
    return { value: context.charges.subtotal, measure: 'subtotal' };
  }

  async function evaluateRule(rule: AlertRule, context: RuleContext, prior: RuleState | undefined, ratedAt: string): Promise<Evaluated> {
    const { charges, customer, tenantId } = context;
    const entered = enterPeriod(prior, charges.periodStart, ratedAt);
    const spec = rule.spec;
    const base = {
      ruleId: rule.id,
      kind: rule.kind,
      customerId: customer.id,
      customerName: customer.name,
      period: { start: charges.periodStart, end: charges.periodEnd },
      currency: charges.currency,
      chargesUrl: `${deps.publicUrl}/v1/customers/${encodeURIComponent(customer.id)}/charges`,
    };
    let decision: Decision;
    let details: (firing: Decision['fire'][number]) => AlertDetails;
    switch (spec.kind) {
      case 'spend_threshold': {
        const { value, measure } = spendOf(rule, context);
        decision = decideThresholds(entered.state, value, spec.thresholds, spec.recurringStep);
        details = (f) => ({ ...base, value, measure, ...(f.threshold !== undefined ? { threshold: f.threshold } : {}) });
        break;
      }
      case 'usage_threshold': {
        const meter = context.meters.get(spec.meter);
        if (!meter) throw new Error(`meter ${spec.meter} of rule ${rule.id} no longer exists`);
        const [total] = await queryMeterTotals(store, tenantId, [meter], customer.subjects, new Date(charges.periodStart), new Date(charges.periodEnd));
        const value = total?.value ?? '0';
        decision = decideThresholds(entered.state, value, spec.thresholds, spec.recurringStep);
        details = (f) => ({ ...base, value, measure: `usage of meter ${spec.meter}`, ...(f.threshold !== undefined ? { threshold: f.threshold } : {}) });
        break;
      }
      case 'budget': {
        const { value, measure } = spendOf(rule, context);
        decision = decideBudget(entered.state, value, spec.budget, spec.percentages);
        details = (f) => ({
          ...base,
          value,
          measure,
          budget: spec.budget,
          ...(f.threshold !== undefined ? { threshold: f.threshold } : {}),
          ...(f.percentage !== undefined ? { percentage: f.percentage } : {}),
        });
        break;
      }
      case 'forecast': {
        const projected = await projectedSpend(spec.lookback, context);
        decision = decideForecast(entered.state, projected, spec.budget);
        details = () => ({ ...base, value: projected, measure: 'projected subtotal at period end', forecast: projected, spent: charges.subtotal, budget: spec.budget });
        break;
      }
      case 'spike': {
        const spike = await spikeFigures(spec.window, spec.baselineDays, context);
        const result = detectSpike({
          current: money(spike.current),
          baseline: spike.baseline.map(money),
          ratio: spec.ratio,
          resolveRatio: spec.resolveRatio,
          minIncrease: spec.minIncrease,
          firing: entered.state.spikeFiring,
        });
        decision = decideSpike(entered.state, result);
        const drivers = result.transition === 'fired' ? await spike.drivers() : undefined;
        details = () => ({
          ...base,
          value: money(spike.current),
          measure: `usage cost over the last ${spec.window}`,
          baseline: result.baselineValue,
          ratio: result.observedRatio,
          window: spike.window,
          ...(drivers ? { drivers } : {}),
        });
        break;
      }
    }
    const createdAt = new Date(now()).toISOString();
    const newAlerts = decision.fire.map((firing): AlertRecord => {
      const episodic = rule.kind === 'spike';
      const id = derivedId('alr', tenantId, rule.id, customer.id, ...(episodic ? [] : [charges.periodStart]), ...firing.key);
      return { tenantId, id, ruleId: rule.id, customerId: customer.id, kind: rule.kind, status: 'firing', details: details(firing), createdAt };
    });
    let state = decision.state;
    const opened = newAlerts.map((alert) => alert.id);
    if (rule.kind === 'spike' || rule.kind === 'forecast') {
      if (opened[0] !== undefined) state = { ...state, firingAlertId: opened[0] };
    } else if (opened.length > 0) {
      state = { ...state, periodAlerts: [...state.periodAlerts, ...opened] };
    }
    return { state, newAlerts, resolved: [...entered.resolve, ...decision.resolve] };
  }

  async function projectedSpend(lookback: string | undefined, context: RuleContext): Promise<string> {
    const { charges } = context;
    // The precise projection decides; figures rated before it was kept beside the rounded one carry it as subtotal.
    if (lookback === undefined) return charges.forecast?.preciseSubtotal ?? charges.forecast?.subtotal ?? charges.subtotal;
    const asOf = Date.parse(charges.asOf);
    const end = Math.ceil(asOf / MINUTE) * MINUTE;
    const start = Math.max(Date.parse(charges.periodStart), end - durationMs(lookback));
    const before = await deps.charges.forCustomerUntil(context.tenantId, context.customer.id, asOf, start);
    const spentUsage = sumOf(usageLines(charges));
    const projected = forecastPeriodEnd({
      spent: money(spentUsage),
      lookbackSpent: money(sumOf(difference(charges, before))),
      lookbackStart: new Date(start),
      periodStart: charges.periodStart,
      periodEnd: charges.periodEnd,
      asOf: new Date(Math.max(asOf, start + 1)),
    });
    // The commitment true-up keeps the subtotal from projecting below the commitment.
    const floor = new D(charges.subtotal);
    return format(D.max(projected, floor));
  }

  /**
   * The usage cost of the last window and of the same window on each of the previous days. A
   * window's cost is the difference of two figures of the billing period holding its end, so
   * tiers price it at the margin; a window reaching back over the period start counts from there.
   */
  async function spikeFigures(window: string, days: number, context: RuleContext) {
    const { charges, tenantId, customer } = context;
    const size = durationMs(window);
    const end = Math.ceil(Date.parse(charges.asOf) / MINUTE) * MINUTE;
    const windowCosts = async (windowEnd: number): Promise<ChargeCosts> => {
      const at = windowEnd - 1;
      const after = windowEnd === end ? charges : await deps.charges.forCustomerUntil(tenantId, customer.id, at, windowEnd);
      const start = Math.max(windowEnd - size, Date.parse(after.periodStart));
      const before = await deps.charges.forCustomerUntil(tenantId, customer.id, at, start);
      return difference(after, before);
    };
    const current = await windowCosts(end);
    const baseline: ChargeCosts[] = [];
    const baselineEnds = Array.from({ length: days }, (_, i) => end - (i + 1) * DAY);
    for (const windowEnd of baselineEnds) {
      const key = `${tenantId}\u0000${customer.id}\u0000${size}\u0000${windowEnd}`;
      const cached = baselines.get(key);
      if (cached && now() - cached.at < BASELINE_TTL_MS) {
        baseline.push(cached.costs);
        continue;
      }
      const costs = await windowCosts(windowEnd);
      baselines.set(key, { at: now(), costs });
      baseline.push(costs);
    }
    for (const [key, entry] of baselines) if (now() - entry.at >= BASELINE_TTL_MS) baselines.delete(key);
    const keyed = (costs: ChargeCosts): KeyedCost[] => [...costs].map(([key, cost]) => ({ key, cost: money(cost) }));
    const average = (rows: ChargeCosts[]): KeyedCost[] => {
      const totals: ChargeCosts = new Map();
      for (const costs of rows) for (const [key, cost] of costs) totals.set(key, (totals.get(key) ?? new D(0)).plus(cost));
      return [...totals].map(([key, total]) => ({ key, cost: money(total.div(Math.max(1, rows.length))) }));
    };
    const windows = { current: { from: end - size, to: end }, baseline: baselineEnds.map((windowEnd) => ({ from: windowEnd - size, to: windowEnd })) };
    return {
      current: sumOf(current),
      baseline: baseline.map(sumOf),
      window: { start: new Date(end - size).toISOString(), end: new Date(end).toISOString() },
      /** What drove the increase: charges, and the group-by dimensions of their meters, by cost increase. */
      drivers: async (): Promise<{ charges: Driver[]; dimensions: Driver[] }> => {
        const dimensionCurrent = await dimensionCosts(context, [current], [windows.current]);
        const dimensionBaseline = await dimensionCosts(context, baseline, windows.baseline);
        return { charges: topDrivers(keyed(current), average(baseline)), dimensions: topDrivers(dimensionCurrent, dimensionBaseline) };
      },
    };
  }

  /**
   * A charge's window cost split over its meter's group-by values in proportion to their
   * quantities (for meters that add up), averaged over the windows given.
   */
  async function dimensionCosts(context: RuleContext, costs: readonly ChargeCosts[], windows: ReadonlyArray<{ from: number; to: number }>): Promise<KeyedCost[]> {
    const totals = new Map<string, Decimal>();
    for (const [index, window] of windows.entries()) {
      for (const [charge, cost] of costs[index] ?? new Map<string, Decimal>()) {
        const meter = context.meters.get(context.chargeMeters.get(charge) ?? '');
        if (!meter || Object.keys(meter.groupBy).length === 0 || !(meter.aggregation === 'SUM' || meter.aggregation === 'COUNT')) continue;
        const [usage] = await queryMeterTotals(store, context.tenantId, [meter], context.customer.subjects, new Date(window.from), new Date(window.to));
        const whole = new D(usage?.value ?? '0');
        if (whole.isZero()) continue;
        for (const group of usage?.groupBy ?? []) {
          const label = Object.entries(group.group)
            .map(([dim, value]) => `${dim}=${value ?? '(none)'}`)
            .join(' ');
          const key = `${charge} ${label}`;
          totals.set(key, (totals.get(key) ?? new D(0)).plus(cost.times(group.value).div(whole)));
        }
      }
    }
    return [...totals].map(([key, total]) => ({ key, cost: money(total.div(Math.max(1, windows.length))) }));
  }

  function deliveriesFor(
    alert: AlertRecord,
    type: MessageType,
    rule: AlertRule,
    customer: Customer,
    endpoints: Awaited<ReturnType<WebhookEndpoints['list']>>,
    operations: string | undefined,
  ): DeliveryRecord[] {
    const at = new Date(now()).toISOString();
    const make = (channel: 'email' | 'webhook', target: string, failure?: string): DeliveryRecord => ({
      tenantId: alert.tenantId,
      id: derivedId('dlv', alert.id, type, channel, target),
      messageId: messageIdOf(alert.id, type),
      alertId: alert.id,
      messageType: type,
      channel,
      target,
      status: failure === undefined ? 'pending' : 'failed',
      attempts: 0,
      nextAttemptAt: at,
      ...(failure !== undefined ? { lastError: failure } : {}),
      createdAt: at,
      updatedAt: at,
    });
    const deliveries: DeliveryRecord[] = [];
    for (const channel of rule.spec.channels) {
      if (channel === 'webhook') {
        const targets = endpoints.filter((e) => !e.disabled && (e.customerId === undefined || e.customerId === customer.id));
        if (targets.length === 0) deliveries.push(make('webhook', '', 'no enabled webhook endpoint for this customer'));
        for (const endpoint of targets) deliveries.push(make('webhook', endpoint.id));
      } else {
        const recipients = [
          ...(rule.spec.emailTo.includes('customer') ? customer.billingContacts : []),
          ...(rule.spec.emailTo.includes('operations') && operations !== undefined ? [operations] : []),
        ];
        const unique = [...new Set(recipients)];
        deliveries.push(
          unique.length > 0
            ? make('email', unique.join(', '))
            : make('email', '', 'no recipients: the customer has no billing contacts and the tenant no operations address'),
        );
      }
    }
    return deliveries;
  }

  function schedule(delay: number): void {
    if (stopped) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      running = cycle()
        .catch((error: unknown) => log.error({ err: error }, 'alert cycle failed'))
        .finally(() => {
          running = undefined;
          const rerun = again;
          again = false;
          schedule(rerun ? 0 : deps.intervalMs);
        });
    }, delay);
  }

  return {
    /** New figures were rated: evaluate now rather than at the next interval. */
    wake(): void {
      if (stopped) return;
      if (running) again = true;
      else schedule(0);
    },
    runOnce: cycle,
    start(): void {
      stopped = false;
      schedule(0);
    },
    async stop(): Promise<void> {
      stopped = true;
      if (timer) clearTimeout(timer);
      if (running) await running;
    },
  };
}

export type AlertEngine = ReturnType<typeof buildAlertEngine>;
