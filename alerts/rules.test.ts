import { describe, expect, it } from 'vitest';
import { alertRuleInput } from './rule-schema.js';
import { effectiveRules, type AlertRule } from './rules.js';

function rule(id: string, body: Record<string, unknown>): AlertRule {
  const spec = alertRuleInput.parse({ channels: ['email'], ...body });
  return { id, version: 1, kind: spec.kind, ...(spec.customerId ? { customerId: spec.customerId } : {}), spec, updatedAt: '', updatedBy: 'k' };
}

describe('effectiveRules', () => {
  const tenantSpend = rule('r1', { kind: 'spend_threshold', thresholds: ['100'] });
  const tenantSpike = rule('r2', { kind: 'spike', minIncrease: '5' });
  const acmeSpend = rule('r3', { kind: 'spend_threshold', customerId: 'acme', thresholds: ['1000'] });
  const globexBudget = rule('r4', { kind: 'budget', customerId: 'globex', budget: '50' });
  const all = [tenantSpend, tenantSpike, acmeSpend, globexBudget];

  it("replaces a tenant default with the customer's own rule of the same kind only", () => {
    expect(effectiveRules(all, 'acme').map((r) => r.id)).toEqual(['r3', 'r2']);
    expect(effectiveRules(all, 'globex').map((r) => r.id)).toEqual(['r4', 'r1', 'r2']);
    expect(effectiveRules(all, 'initech').map((r) => r.id)).toEqual(['r1', 'r2']);
    expect(effectiveRules([], 'acme')).toEqual([]);
  });

  it('fills in the documented defaults', () => {
    expect(tenantSpike.spec).toMatchObject({ window: '1h', baselineDays: 7, ratio: '3', resolveRatio: '1.5', emailTo: ['customer', 'operations'] });
    expect(globexBudget.spec).toMatchObject({ percentages: [50, 80, 100] });
  });
});
