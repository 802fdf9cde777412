import { describe, expect, it } from 'vitest';
import * as alerts from './index.js';

describe('alerts public API', () => {
  it('runs a budget evaluation end to end through the public names', () => {
    const thresholds = alerts.budgetThresholds('1000', [50, 80, 100]);
    expect(alerts.crossedThresholds({ previous: '450', current: '820', thresholds })).toEqual(['500', '800']);
    const projected = alerts.forecastPeriodEnd({
      spent: '820',
      periodStart: '2026-11-01T00:00:00Z',
      periodEnd: '2026-12-01T00:00:00Z',
      asOf: '2026-11-21T00:00:00Z',
    });
    expect(projected).toBe('1230');
    expect(alerts.forecastState({ projected, budget: '1000', wasAbove: false })).toEqual({ above: true, fire: true });
  });
});
