import { describe, expect, it } from 'vitest';
import { alertRulePatch } from './rule-schema.js';

describe('alertRulePatch', () => {
  it('takes any field of any kind, null to remove one, and fills in no defaults', () => {
    expect(alertRulePatch.parse({ thresholds: ['250'], recurringStep: null, reason: 'fewer mails' })).toEqual({
      thresholds: ['250'],
      recurringStep: null,
      reason: 'fewer mails',
    });
    expect(alertRulePatch.parse({ budget: '150', lookback: '7d' })).toEqual({ budget: '150', lookback: '7d' });
    expect(alertRulePatch.parse({})).toEqual({});
  });

  it('checks each field for its type, with the rules of the kinds', () => {
    const wrong = alertRulePatch.safeParse({ thresholds: '250', window: '90d', channels: [] });
    expect(wrong.success).toBe(false);
    expect(wrong.error?.issues.map((issue) => issue.path.join('.')).sort()).toEqual(['channels', 'thresholds', 'window']);
  });

  it('refuses a field no kind has, naming it, rather than ignoring it', () => {
    const unknown = alertRulePatch.safeParse({ treshold: ['5'] });
    expect(unknown.success).toBe(false);
    expect(unknown.error?.issues[0]?.message).toMatch(/treshold/);
  });

  it('takes a kind, so the rule can say that a kind never changes', () => {
    expect(alertRulePatch.parse({ kind: 'forecast' })).toEqual({ kind: 'forecast' });
    expect(alertRulePatch.safeParse({ kind: 'weekly' }).success).toBe(false);
  });
});
