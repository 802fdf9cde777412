import { crossedBudgetThresholds, forecastState } from './detectors/budget.js';
import type { SpikeResult } from './detectors/spike.js';
import { crossedThresholds } from './detectors/thresholds.js';
import { D, format } from '../platform/money.js';

/**
 * What the engine remembers per rule and customer between evaluations, persisted after every
 * decision. Alert ids are derived from this state and the decision (never from the clock), so
 * a decision repeated after a crash produces the same ids.
 */
export interface RuleState {
  /** rated_at of the last evaluated figure: older or equal figures are never evaluated again. */
  readonly ratedAt: string;
  readonly periodStart: string;
  /** Highest figure seen this period: a threshold is reported once per period even if spend dips and rises again. */
  readonly high?: string;
  /** Alerts of this period that resolve when it ends (thresholds and budget). */
  readonly periodAlerts: readonly string[];
  readonly forecastAbove: boolean;
  readonly forecastRises: number;
  readonly spikeFiring: boolean;
  readonly spikeFires: number;
  /** The forecast or spike alert firing now, resolved when the condition clears. */
  readonly firingAlertId?: string;
}

export interface Resolution {
  readonly alertId: string;
  readonly resolution: string;
  /** Whether the customer hears about it (a spike or forecast that cleared); period ends are silent. */
  readonly notify: boolean;
}

export interface Firing {
  /** Distinguishes the alerts of one rule, customer and period (or spike episode). */
  readonly key: readonly string[];
  readonly threshold?: string;
  readonly percentage?: string;
}

export interface Decision {
  readonly state: RuleState;
  readonly fire: readonly Firing[];
  readonly resolve: readonly Resolution[];
}

/** Carries the state into the figure's period: a new period resolves the old one's alerts silently. */
export function enterPeriod(prior: RuleState | undefined, periodStart: string, ratedAt: string): { state: RuleState; resolve: Resolution[] } {
  if (prior && prior.periodStart === periodStart) return { state: { ...prior, ratedAt }, resolve: [] };
  const resolve: Resolution[] = (prior?.periodAlerts ?? []).map((alertId) => ({ alertId, resolution: 'the billing period ended', notify: false }));
  let firingAlertId = prior?.firingAlertId;
  // A forecast is about one period; a spike is not, and carries on.
  if (prior?.forecastAbove && firingAlertId !== undefined) {
    resolve.push({ alertId: firingAlertId, resolution: 'the billing period ended', notify: false });
    firingAlertId = undefined;
  }
  return {
    state: {
      ratedAt,
      periodStart,
      periodAlerts: [],
      forecastAbove: false,
      forecastRises: 0,
      spikeFiring: prior?.spikeFiring ?? false,
      spikeFires: prior?.spikeFires ?? 0,
      ...(firingAlertId !== undefined ? { firingAlertId } : {}),
    },
    resolve,
  };
}

function higher(a: string | undefined, b: string): string {
  return a === undefined || new D(b).gt(a) ? format(new D(b)) : a;
}

/** spend_threshold and usage_threshold: one alert per threshold crossed, ascending. */
export function decideThresholds(state: RuleState, value: string, thresholds: readonly string[], recurringStep: string | undefined): Decision {
  const crossed = crossedThresholds({ previous: state.high, current: value, thresholds, recurringStep });
  return {
    state: { ...state, high: higher(state.high, value) },
    fire: crossed.map((threshold) => ({ key: ['threshold', threshold], threshold })),
    resolve: [],
  };
}

export function decideBudget(state: RuleState, value: string, budget: string, percentages: ReadonlyArray<number>): Decision {
  const crossed = crossedBudgetThresholds({ previous: state.high, current: value, budget, percentages: percentages.map(String) });
  return {
    state: { ...state, high: higher(state.high, value) },
    fire: crossed.map((c) => ({ key: ['budget', c.percentage], threshold: c.amount, percentage: c.percentage })),
    resolve: [],
  };
}

/** Fires when the projection rises above the budget; resolves (and says so) when it falls back under. */
export function decideForecast(state: RuleState, projected: string, budget: string): Decision {
  const { above, fire } = forecastState({ projected, budget, wasAbove: state.forecastAbove });
  if (fire) {
    return { state: { ...state, forecastAbove: true, forecastRises: state.forecastRises + 1 }, fire: [{ key: ['forecast', String(state.forecastRises + 1)] }], resolve: [] };
  }
  if (!above && state.forecastAbove) {
    const { firingAlertId, ...rest } = state;
    return {
      state: { ...rest, forecastAbove: false },
      fire: [],
      resolve: firingAlertId !== undefined ? [{ alertId: firingAlertId, resolution: 'the forecast fell back under the budget', notify: true }] : [],
    };
  }
  return { state, fire: [], resolve: [] };
}

export function decideSpike(state: RuleState, result: SpikeResult): Decision {
  if (result.transition === 'fired') {
    return { state: { ...state, spikeFiring: true, spikeFires: state.spikeFires + 1 }, fire: [{ key: ['spike', String(state.spikeFires + 1)] }], resolve: [] };
  }
  if (result.transition === 'resolved') {
    const { firingAlertId, ...rest } = state;
    return {
      state: { ...rest, spikeFiring: false },
      fire: [],
      resolve: firingAlertId !== undefined ? [{ alertId: firingAlertId, resolution: 'the cost fell back towards its baseline', notify: true }] : [],
    };
  }
  return { state, fire: [], resolve: [] };
}
