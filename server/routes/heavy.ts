import { limitsFor, runHeavy, type ConcurrencyGate, type LimitsConfig, type TenantLimits } from '../../platform/limits.js';

/**
 * What the query routes need to keep heavy reads in bounds. Heavy reads are the meter query,
 * a customer's usage, and the charges and invoice preview (which read the period's usage):
 * each takes a slot of the gate for as long as it runs and answers 429 when none is free.
 */
export interface QueryLimits {
  readonly config: LimitsConfig;
  readonly gate: ConcurrencyGate;
}

/** The tenant's limits, with the engine-side timeout every heavy read carries. */
export function tenantLimits(limits: QueryLimits, tenantId: string): TenantLimits & { readonly timeoutMs: number } {
  return { ...limitsFor(limits.config, tenantId), timeoutMs: limits.config.queryTimeoutMs };
}

/** Runs one heavy read of the tenant in a slot of the gate, bounded by the query timeout. */
export function heavyRead<T>(limits: QueryLimits, tenantId: string, work: () => Promise<T>): Promise<T> {
  return runHeavy(limits.gate, tenantId, limitsFor(limits.config, tenantId).maxHeavyQueries, limits.config.queryTimeoutMs, work);
}
